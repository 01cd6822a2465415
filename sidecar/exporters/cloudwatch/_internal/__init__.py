"""CloudWatch's classic wire formats: Embedded Metric Format events and PutLogEvents batches."""
