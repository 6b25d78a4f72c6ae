"""CloudWatch-style metrics: datapoints aggregated per period, statistics, retention (0172)."""
