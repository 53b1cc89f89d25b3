package sinks

// PostgresTestDSN exports postgresDSN to the external tests of this
// package (sinks_test).
var PostgresTestDSN = postgresDSN
