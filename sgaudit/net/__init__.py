"""Integer arithmetic for what a firewall rule names: interval sets (``intervals``), the port
axis of every protocol (``ports``) and the one address line of IPv4 and IPv6 (``addresses``)."""
