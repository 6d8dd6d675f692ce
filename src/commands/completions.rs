//! `parity completions SHELL` and `parity man`: generated from the clap
//! definitions, so they never drift from the flags.

use super::CommandError;
use crate::cli::{Cli, CompletionsArgs};
use crate::exit::Exit;
use clap::CommandFactory;

pub fn completions(args: &CompletionsArgs) -> Result<Exit, CommandError> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "parity", &mut script);
    print(&script)
}

pub fn man() -> Result<Exit, CommandError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| CommandError::Infrastructure(format!("cannot render the manual page: {e}")))?;
    // Each command's synopsis and options, after the top-level page.
    for sub in Cli::command().get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("parity {}", sub.get_name());
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        page.extend_from_slice(
            format!(".SH \"{}\"\n{}\n", name.to_uppercase(), roff_text(&about)).as_bytes(),
        );
        let man = clap_mangen::Man::new(sub.clone().bin_name(name));
        man.render_synopsis_section(&mut page)
            .and_then(|_| man.render_options_section(&mut page))
            .map_err(|e| CommandError::Infrastructure(format!("cannot render the manual page: {e}")))?;
    }
    print(&page)
}

/// Text safe in a roff line: no leading control character, backslashes escaped.
fn roff_text(text: &str) -> String {
    let escaped = text.replace('\\', "\\e");
    match escaped.starts_with(['.', '\'']) {
        true => format!("\\&{escaped}"),
        false => escaped,
    }
}

fn print(bytes: &[u8]) -> Result<Exit, CommandError> {
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| CommandError::Infrastructure("the generated text is not UTF-8".into()))?;
    crate::progress::print_stdout(&text);
    Ok(Exit::Ok)
}
