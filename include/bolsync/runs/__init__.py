"""What every stream shares: settings, accounts, windows, run defaults, staging, audit, alerts, freshness, assets."""
