"""Where a judged scan goes besides its report: notices of change (Slack, Teams, webhooks) and
AWS Security Hub. Above the reports (it may render through them); below the CLI."""
