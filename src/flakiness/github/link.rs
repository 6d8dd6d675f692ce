//! The `Link` response header (RFC 8288), as GitHub paginates with it.

/// The target of the `rel="next"` link, if any.
///
/// Targets are taken between `<` and `>` first, so commas or semicolons
/// inside a URL do not split it.
pub fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    while let Some(open) = rest.find('<') {
        let after_open = &rest[open + 1..];
        let close = after_open.find('>')?;
        let target = &after_open[..close];
        let params_and_more = &after_open[close + 1..];
        let params_end = params_and_more.find('<').unwrap_or(params_and_more.len());
        let params = &params_and_more[..params_end];
        if has_rel(params, "next") {
            return Some(target.trim().to_string());
        }
        rest = &params_and_more[params_end..];
    }
    None
}

/// Whether `; rel="a b"` (quoted or not, any case) names `rel`.
fn has_rel(params: &str, rel: &str) -> bool {
    params.split(';').any(|param| {
        let Some((key, value)) = param.split_once('=') else { return false };
        key.trim().eq_ignore_ascii_case("rel")
            && value
                .trim()
                .trim_end_matches(',')
                .trim()
                .trim_matches('"')
                .split_whitespace()
                .any(|v| v.eq_ignore_ascii_case(rel))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_next_among_githubs_links() {
        let header = r#"<https://api.github.com/repositories/1/actions/runs?page=2>; rel="next", <https://api.github.com/repositories/1/actions/runs?page=5>; rel="last""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/repositories/1/actions/runs?page=2")
        );
    }

    #[test]
    fn next_may_come_last_unquoted_or_with_other_rels() {
        assert_eq!(
            next_link(r#"<http://a/?p=1>; rel="prev", <http://a/?p=3>; rel=next"#).as_deref(),
            Some("http://a/?p=3")
        );
        assert_eq!(
            next_link(r#"<http://a/?p=3>; title="x"; rel="last NEXT""#).as_deref(),
            Some("http://a/?p=3")
        );
    }

    #[test]
    fn commas_and_semicolons_inside_a_target_do_not_split_it() {
        assert_eq!(
            next_link(r#"<http://a/?created=%3E%3D2024-01-01,x;y>; rel="next""#).as_deref(),
            Some("http://a/?created=%3E%3D2024-01-01,x;y")
        );
    }

    #[test]
    fn no_next_on_the_last_page_or_in_garbage() {
        assert_eq!(next_link(r#"<http://a/?p=1>; rel="first", <http://a/?p=1>; rel="prev""#), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("<unterminated; rel=next"), None);
        assert_eq!(next_link("rel=\"next\""), None);
        assert_eq!(next_link(r#"<http://a/?p=2>; rel="nextish""#), None);
    }
}
