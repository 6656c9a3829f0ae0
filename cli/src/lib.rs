//! The Greenlight command-line client: log in to a PDS with an app password, keep the
//! session, and read totals from the AppView. Acting for the user (records, escrow) is the
//! `greenlight-client` library's, re-exported here under the paths the commands, the demo
//! seeder and the end-to-end tests use. The `greenlight` binary is a thin command line over
//! this library.

pub mod appview_client;
pub mod demo;
pub mod demo_forge;
pub mod error;
pub mod escrow_client;
pub mod money;
pub mod output;
pub mod pledging;
pub mod records;
pub mod session;

pub use error::CliError;
pub use greenlight_client::ClientError;
