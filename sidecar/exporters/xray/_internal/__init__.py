"""X-Ray's classic wire format: segment documents, PutTraceSegments, the daemon's UDP and sampling ports."""
