//! Amounts people type on the command line, read as the client library reads them.

pub use greenlight_client::money::minor_units;
