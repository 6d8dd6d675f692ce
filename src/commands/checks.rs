//! `parity checks`: the catalogue of checks.

use crate::cli::ChecksArgs;
use crate::exit::Exit;
use crate::progress::print_stdout;
use crate::scenario::catalog;

pub fn run(args: &ChecksArgs) -> Exit {
    let text = if args.json {
        let all: Vec<&catalog::CheckSpec> = catalog::all().collect();
        serde_json::to_string_pretty(&all).expect("the catalogue serializes") + "\n"
    } else {
        catalog::render_table()
    };
    print_stdout(&text);
    Exit::Ok
}
