"""CloudWatch-style metrics (decision 0172): the limits of the API's calls, and the periodic
tasks that sample the platform's own metrics and roll old datapoints up.

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from andromede.settings.units import MIB


class MetricsSettings(BaseModel):
    """CloudWatch metrics' limits and upkeep."""

    metrics_max_body_size: int = Field(
        default=MIB,
        gt=0,
        description="Largest CloudWatch request body in bytes, AWS's 1 MB of a PutMetricData "
        "(decision 0172).",
    )
    metrics_max_put_metrics: int = Field(
        default=1000,
        gt=0,
        description="Metrics one PutMetricData may carry (AWS: 1,000) (decision 0172).",
    )
    metrics_max_values: int = Field(
        default=150,
        gt=0,
        description="Values (and Counts) one metric of a PutMetricData may carry (AWS: 150) "
        "(decision 0172).",
    )
    metrics_max_dimensions: int = Field(
        default=30,
        gt=0,
        description="Dimensions a metric may have (AWS: 30) (decision 0172).",
    )
    metrics_max_datapoints: int = Field(
        default=1440,
        gt=0,
        description="Datapoints one GetMetricStatistics may answer (AWS: 1,440) (decision 0172).",
    )
    metrics_max_data_points: int = Field(
        default=100800,
        gt=0,
        description="Datapoints one GetMetricData page answers at most, its MaxDatapoints "
        "default and ceiling (AWS: 100,800) (decision 0172).",
    )
    metrics_max_age: int = Field(
        default=14 * 86400,
        gt=0,
        description="Seconds in the past a PutMetricData timestamp may be (AWS: two weeks) "
        "(decision 0172).",
    )
    metrics_max_ahead: int = Field(
        default=7200,
        ge=0,
        description="Seconds in the future a PutMetricData timestamp may be (AWS: two hours) "
        "(decision 0172).",
    )
    metrics_max_queries: int = Field(
        default=500,
        gt=0,
        description="MetricDataQueries one GetMetricData may carry (AWS: 500) (decision 0172).",
    )
    metrics_list_page: int = Field(
        default=500,
        gt=0,
        description="Metrics one ListMetrics page answers (AWS: 500) (decision 0172).",
    )
    metrics_math_max_length: int = Field(
        default=2048,
        gt=0,
        description="Characters a metric math Expression may hold (AWS: 2,048) (decision 0183).",
    )
    metrics_math_max_depth: int = Field(
        default=50,
        gt=0,
        le=200,
        description="Levels of parentheses, function calls and unary operators a metric math "
        "expression may nest, the parser's recursion bound (decision 0183).",
    )
    metrics_math_max_series: int = Field(
        default=500,
        gt=0,
        description="Time series one metric math array (METRICS(), [m1, m2]) may hold "
        "(decision 0183).",
    )
    metrics_platform_interval: float = Field(
        default=60.0,
        gt=0,
        description="Seconds between two samplings of the platform's own metrics (AWS/SQS "
        "queue depths, AWS/AutoScaling group sizes) (decision 0172).",
    )
    metrics_rollup_interval: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between two passes of the metrics retention roll-up (decision 0172).",
    )
    metrics_rollup_batch: int = Field(
        default=10000,
        gt=0,
        description="Periods one transaction of the metrics roll-up moves at most (decision 0172).",
    )
    s3_storage_metrics_hour: int = Field(
        default=0,
        ge=0,
        le=23,
        description="UTC hour from which one gateway writes the day's AWS/S3 storage metrics "
        "(BucketSizeBytes, NumberOfObjects) of every bucket, stamped at 00:00 UTC "
        "(decision 0181).",
    )
    s3_storage_metrics_interval: int = Field(
        default=86400,
        ge=1,
        le=86400,
        description="Seconds between two runs of the AWS/S3 storage metrics: a day, as AWS; "
        "shorter for tests, each run then merging into the same day's datapoint "
        "(decision 0181).",
    )
    alarm_evaluation_interval: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="Seconds between two rounds of the CloudWatch alarm evaluator in each "
        "gateway; an alarm is evaluated at the first round after each of its periods ends "
        "(decision 0177).",
    )
    alarm_evaluation_batch: int = Field(
        default=200,
        gt=0,
        description="Alarms one round of the evaluator (and of the history's purge) takes at "
        "most (decision 0177).",
    )
    alarm_max_per_account: int = Field(
        default=5000,
        gt=0,
        description="CloudWatch metric alarms an account may hold (decision 0177).",
    )
    alarm_history_days: int = Field(
        default=14,
        gt=0,
        description="Days an alarm's history (state changes, configuration updates, actions) "
        "is kept, DescribeAlarmHistory's reach (AWS: two weeks) (decision 0177).",
    )
    dashboard_max_per_account: int = Field(
        default=5000,
        gt=0,
        description="CloudWatch dashboards an account may hold (decision 0185).",
    )
    dashboard_max_body_size: int = Field(
        default=1048576,
        gt=0,
        description="Largest DashboardBody in bytes (AWS: 1 MB); a request is bounded by "
        "metrics_max_body_size too (decision 0185).",
    )
    dashboard_max_widgets: int = Field(
        default=500,
        gt=0,
        description="Widgets one dashboard may hold (AWS: 500) (decision 0185).",
    )
    dashboard_list_page: int = Field(
        default=1000,
        gt=0,
        description="Dashboards one ListDashboards page answers (AWS: 1,000) (decision 0185).",
    )
    alarm_evaluation_range_extra: int = Field(
        default=2,
        ge=0,
        le=100,
        description="Periods an alarm reads beyond EvaluationPeriods, so that missing "
        "datapoints are replaced by older real ones: AWS's evaluation range, whose length AWS "
        "does not give as a formula (decision 0189).",
    )
    anomaly_max_detectors: int = Field(
        default=500,
        gt=0,
        description="CloudWatch anomaly detectors an account may hold (decision 0189).",
    )
    anomaly_history_days: int = Field(
        default=14,
        gt=0,
        le=15,
        description="Days of a metric an anomaly model is trained on (AWS: up to two weeks) "
        "(decision 0189).",
    )
    anomaly_min_training_points: int = Field(
        default=24,
        gt=0,
        description="Values of the history an anomaly model needs to be TRAINED; fewer is "
        "TRAINED_INSUFFICIENT_DATA and gives no band (decision 0189).",
    )
    anomaly_model_cache_seconds: int = Field(
        default=300,
        ge=0,
        description="Seconds a gateway keeps a trained anomaly model before reading the "
        "metric's history again (decision 0189).",
    )
    anomaly_list_page: int = Field(
        default=100,
        gt=0,
        description="Anomaly detectors one DescribeAnomalyDetectors page answers at most, "
        "MaxResults' bound (AWS: 100) (decision 0189).",
    )
    anomaly_model_cache_size: int = Field(
        default=256,
        gt=0,
        description="Anomaly models a gateway keeps in its cache (decision 0189).",
    )
    metric_streams_max_per_account: int = Field(
        default=1000,
        gt=0,
        description="CloudWatch metric streams an account may hold (AWS: 1,000 a "
        "Region) (decision 0233).",
    )
    metric_streams_max_filter_names: int = Field(
        default=1000,
        gt=0,
        description="Names one metric stream's IncludeFilters or ExcludeFilters may "
        "hold, namespaces and metric names together (AWS: 1,000) (decision "
        "0233).",
    )
    metric_streams_max_statistics_metrics: int = Field(
        default=100,
        gt=0,
        description="Metrics one StatisticsConfigurations entry of a metric stream "
        "may list in IncludeMetrics (AWS: 100) (decision 0233).",
    )
    metric_streams_list_page: int = Field(
        default=500,
        gt=0,
        description="Metric streams one ListMetricStreams page answers at most, "
        "MaxResults' bound (AWS: 500) (decision 0233).",
    )
    metric_streams_delay: int = Field(
        default=120,
        ge=0,
        description="Seconds after a minute ends before the metric streams send its "
        "datapoints (data put later for that minute is not streamed) (decision "
        "0233).",
    )
    metric_streams_catch_up: int = Field(
        default=60,
        gt=0,
        description="Minutes the metric streams catch up after every gateway was "
        "down; older minutes are not sent (decision 0233).",
    )
    metric_streams_poll_interval: float = Field(
        default=15.0,
        gt=0,
        description="Seconds between two looks of a gateway for a due minute of the "
        "metric streams (decision 0233).",
    )
    metric_streams_record_bytes: int = Field(
        default=65536,
        gt=0,
        description="Largest Firehose record a metric stream writes, whole JSON lines "
        "packed into it (decision 0233).",
    )
    insight_rules_max_per_account: int = Field(
        default=100,
        gt=0,
        description="Contributor Insights rules an account may hold (AWS: 100 a Region) "
        "(decision 0272).",
    )
    insight_rules_max_contributors: int = Field(
        default=500,
        gt=0,
        description="Contributors a Contributor Insights rule keeps per minute, the greatest "
        "(the others counted in its unique contributors only) (decision 0272).",
    )
    insight_rules_list_page: int = Field(
        default=500,
        gt=0,
        description="Rules one DescribeInsightRules page answers at most, MaxResults' bound "
        "(AWS: 500) (decision 0272).",
    )
    insight_rules_cache: float = Field(
        default=5.0,
        gt=0,
        description="Seconds a gateway keeps an account's enabled Contributor Insights rules "
        "before reading them again: a rule put through another gateway applies to log events "
        "within this time (decision 0272).",
    )
    insight_rules_flush_interval: float = Field(
        default=10.0,
        gt=0,
        description="Seconds between two writes of a gateway's tallied Contributor Insights "
        "minutes into the database (decision 0272).",
    )
    insight_rules_retention_days: int = Field(
        default=15,
        gt=0,
        description="Days a Contributor Insights rule's minutes are kept for its reports "
        "(decision 0272).",
    )
    insight_rules_report_max_datapoints: int = Field(
        default=1440,
        gt=0,
        description="Periods one GetInsightRuleReport may span (decision 0272).",
    )
