"""Wire-format decoders for the hot path: protobuf wire reader, decimal numbers, JSON scanning."""
