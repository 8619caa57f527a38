"""Code every dankjewel service imports: the event contract, the CloudEvents
envelope, settings, and the Kafka and database delivery primitives."""
