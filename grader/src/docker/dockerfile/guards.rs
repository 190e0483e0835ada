//! Where the parser crate and Docker could read the same text differently:
//! each guard refuses such text rather than guess which reading the engine takes.

use super::*;

/// Refuses, outside comment lines, every character other than printable ones,
/// spaces, tabs and line ends. Docker trims and splits with Unicode whitespace
/// (and its flag reader treats the bytes 0x85 and 0xA0 as spaces); the parser
/// only knows ASCII, and also reads `\v`, `\f` and a lone `\r` as spaces, so
/// `\` + space + CR + space + LF continues a line for the parser but not for
/// Docker: a line it hides would run.
pub(super) fn check_characters(text: &str) -> Result<(), Refusal> {
    for (i, line) in text.split('\n').enumerate() {
        let body = line.strip_suffix('\r').unwrap_or(line);
        if body.trim_start_matches([' ', '\t']).starts_with('#') {
            continue;
        }
        let odd = |c: char| c != ' ' && c != '\t' && (c.is_whitespace() || c.is_control());
        if let Some(c) = body.chars().find(|&c| odd(c)) {
            let name = match c {
                '\r' => "a carriage return that does not end the line",
                c if c.is_control() => "a control character",
                _ => "a space other than a plain space or tab",
            };
            return Err(refusal(
                i + 1,
                format_args!(
                    "this line has {name} (U+{:04X}), which Docker and the grader read \
                     differently; use plain spaces and tabs",
                    u32::from(c)
                ),
            ));
        }
    }
    Ok(())
}

/// The escape character. Docker 20.10 and later versions disagree on which
/// directives may come before `# escape=` (and the parser knows a `check`
/// directive they do not), so the directive is read only from the first line,
/// written plainly; one anywhere else in the leading comments is refused.
pub(super) fn escape_directive(text: &str) -> Result<char, Refusal> {
    let mut escape = '\\';
    for (i, line) in text.split('\n').enumerate() {
        let body = line.strip_suffix('\r').unwrap_or(line);
        if !body.trim_start().starts_with('#') {
            break;
        }
        let lower = body.to_ascii_lowercase();
        let mentions = (lower.match_indices("escape"))
            .any(|(at, _)| lower[at + "escape".len()..].trim_start().starts_with('='));
        if !mentions {
            continue;
        }
        match plain_escape(body) {
            Some(c) if i == 0 => escape = c,
            _ => {
                return Err(refusal(
                    i + 1,
                    "an escape directive must be the first line, written `# escape=\\` or \
                     `# escape=``; Docker versions read it differently anywhere else",
                ));
            }
        }
    }
    Ok(escape)
}

/// `# escape=X` with only spaces and tabs around, X being `\` or `` ` ``.
pub(super) fn plain_escape(line: &str) -> Option<char> {
    let rest = line.strip_prefix('#')?.trim_start_matches([' ', '\t']);
    let key = rest.get(..6).filter(|k| k.eq_ignore_ascii_case("escape"))?;
    let rest = rest.get(key.len()..)?.trim_start_matches([' ', '\t']);
    match rest.strip_prefix('=')?.trim_matches([' ', '\t']) {
        "\\" => Some('\\'),
        "`" => Some('`'),
        _ => None,
    }
}

/// Refuses flags Docker could split differently: its flag reader honours quotes
/// and backslashes (`--chown="a b" --from=img` is two flags to Docker, one and a
/// source to the parser) and splits on non-ASCII bytes.
pub(super) fn check_flags(flags: &[Flag<'_>], line: usize) -> Result<(), Refusal> {
    let odd = |s: &str| {
        (s.chars()).any(|c| !c.is_ascii_graphic() || matches!(c, '"' | '\'' | '\\' | '`'))
    };
    for f in flags {
        let value = f.value.as_ref().map_or("", |v| &*v.value);
        if odd(&f.name.value) || odd(value) {
            return Err(refusal(
                line,
                format_args!(
                    "the flag --{} has quotes, escapes or non-ASCII characters, which Docker \
                     and the grader read differently; write it plainly",
                    shown(&f.name.value)
                ),
            ));
        }
    }
    Ok(())
}

/// The value of the flag `name` (case-insensitive): `Some(None)` when it has none.
pub(super) fn flag<'f>(flags: &'f [Flag<'_>], name: &str) -> Option<Option<&'f str>> {
    let found = flags
        .iter()
        .find(|f| f.name.value.eq_ignore_ascii_case(name))?;
    Some(found.value.as_ref().map(|v| &*v.value))
}

/// ONBUILD triggers are read again in a later build, with the default escape
/// character and that build's variables: only plain text is sure.
pub(super) fn plain_in_onbuild(raw: &str, what: &str, line: usize) -> Result<(), Refusal> {
    if raw.contains(['$', '"', '\'', '\\', '`']) {
        return Err(refusal(
            line,
            format_args!(
                "ONBUILD {what} {} uses variables, quotes or escapes, which a later build \
                 reads differently; write it plainly",
                shown(raw)
            ),
        ));
    }
    Ok(())
}

/// The first JSON array of strings in `text`, ignoring what follows, as Go's
/// decoder reads it (`None` where it is not one: refused, never guessed).
pub(super) fn json_array_prefix(text: &str) -> Option<Vec<String>> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Vec<String>>();
    values.next()?.ok()
}

/// What an ADD source would make the daemon (or BuildKit) fetch: a URL or a git
/// repository. Broader than the classic builder's `http(s)://` prefix on purpose.
pub(super) fn remote_kind(source: &str) -> Option<&'static str> {
    let lower = source.to_ascii_lowercase();
    let git = lower.starts_with("git@")
        || lower.starts_with("git://")
        || lower.starts_with("ssh://")
        || lower.starts_with("github.com/")
        || (lower.contains("://") && lower.trim_end_matches('/').ends_with(".git"))
        || scp_like(&lower);
    if git {
        Some("a git repository")
    } else if lower.contains("://") {
        Some("a URL")
    } else {
        None
    }
}

/// `user@host:path`, git's scp-like address.
pub(super) fn scp_like(source: &str) -> bool {
    let Some((user, rest)) = source.split_once('@') else {
        return false;
    };
    let host = rest.split_once(':').map(|(h, _)| h);
    !user.is_empty()
        && !user.contains(['/', ':'])
        && host.is_some_and(|h| !h.is_empty() && !h.contains('/'))
}
