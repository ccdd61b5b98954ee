import Testing

/// Tests that load the simulator or PostgreSQL, or measure time: one at a time, so that they do
/// not disturb each other's timing (the nested suites live in extensions, one per file).
@Suite(.serialized) struct RegistryIntegrationTests {}
