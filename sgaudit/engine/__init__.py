"""The pure engine: options -> desired state (resolve), desired x actual -> findings (diff),
policy x snapshot -> report (audit). No cloud SDK, no click, no files."""
