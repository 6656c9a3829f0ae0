//! The Greenlight client: log in to a PDS, write `fund.greenlight.*` records, pledge money
//! through escrow, and read totals from the AppView. The `greenlight` binary is a thin
//! command line over this library; the end-to-end tests and the demo seeder use it directly.

pub mod appview_client;
pub mod checkout;
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
