"""What a scheduled scan adds between the audit and the report: waivers, baselines, history."""
