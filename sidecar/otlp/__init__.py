"""What every stage shares about OTLP: the signals, the OTLP/JSON codec, attribute values and the wire reader.

Lower than every stage: it imports nothing from the pipeline or from any component.
"""
