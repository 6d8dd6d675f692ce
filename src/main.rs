//! `parity`: a thin shell. Parses the command line, runs the command on a
//! Tokio runtime, exits with its code. Everything else is in `commands`.

use std::process::ExitCode;
use webprofile_parity::{cli, commands, exit::Exit};

/// glibc's malloc held on to freed memory as concurrency rose (peak RSS of
/// a long embedded run tripled from `--concurrency 8` to 32); mimalloc's
/// stays flat.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(e) => {
            let printed = e.print().is_ok_and(|()| std::io::Write::flush(&mut std::io::stdout()).is_ok());
            return ExitCode::from(match (e.use_stderr(), printed) {
                (true, _) => Exit::Usage.code() as u8,
                (false, true) => 0,
                // `--help > /dev/full`: the help was lost.
                (false, false) => Exit::Infrastructure.code() as u8,
            });
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("parity: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Infrastructure.code() as u8);
        }
    };
    let code = runtime.block_on(commands::dispatch(cli.command));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
