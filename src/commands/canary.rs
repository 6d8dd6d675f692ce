//! `parity canary`: every fault against embedded reference instances.

use crate::canary::{self, CanaryOptions};
use crate::cli::CanaryArgs;
use crate::exit::Exit;
use crate::progress::{print_stdout, Reporter};

pub async fn run(args: &CanaryArgs) -> Exit {
    let report = canary::run(&CanaryOptions::default(), Reporter::detect()).await;
    if args.json {
        print_stdout(&(serde_json::to_string_pretty(&report).expect("the canary report serializes") + "\n"));
    } else {
        print_stdout(&canary::render_table(&report));
    }
    if report.passed() {
        Exit::Ok
    } else {
        Reporter::plain().line(format!("canary failed: {}", report.problems().join("; ")));
        Exit::ParityFailure
    }
}
