//! `parity run`: resolve the arguments, run, exit with the verdict's code.

use super::run_options::run_config;
use super::CommandError;
use crate::cli::RunArgs;
use crate::clock::Clock;
use crate::exit::Exit;
use crate::progress::Reporter;
use crate::settings::process_env;

pub async fn run(args: RunArgs) -> Result<Exit, CommandError> {
    // From here on a signal stops the run at its next step; artifacts and cleanup still happen.
    crate::signals::install();
    let config = run_config(&args, &process_env)?;
    Ok(crate::run::run(config, Clock::start(), Reporter::detect()).await)
}
