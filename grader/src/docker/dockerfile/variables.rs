//! Variables, substituted as the engine's classic builder does.

use super::*;

/// A variable's value.
#[derive(Debug, Clone)]
pub(super) enum Val {
    Set(String),
    Unset,
    /// Cannot be known before the build; the value the Dockerfile suggests.
    Unknown(String),
}

impl Val {
    pub(super) fn guess(&self) -> String {
        match self {
            Val::Set(v) | Val::Unknown(v) => v.clone(),
            Val::Unset => String::new(),
        }
    }
}

/// The variables a stage's instructions see.
#[derive(Debug, Clone, Default)]
pub(super) struct Scope {
    /// ENV of this stage (and of the stage it is built on).
    pub(super) env: BTreeMap<String, Val>,
    /// ARGs declared in this stage, resolved.
    pub(super) args: BTreeMap<String, Val>,
    /// The base image's own ENV, which the grader cannot see, may set any name.
    pub(super) base_env_unknown: bool,
    /// Nothing is known: a variable's name was computed, or ONBUILD triggers ran.
    pub(super) opaque: bool,
}

/// Proxy arguments Docker lets a build argument set without an ARG.
pub(super) const BUILTIN_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

impl Scope {
    pub(super) fn scratch() -> Self {
        // The builder gives an image without PATH a default one.
        let path =
            Val::Unknown("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
        Scope {
            env: BTreeMap::from([("PATH".to_string(), path)]),
            ..Scope::default()
        }
    }

    /// Docker's order: ENV (the image's and the stage's) wins over ARG.
    pub(super) fn lookup(&self, name: &str, build_args: &BTreeMap<String, String>) -> Val {
        let found = match self.env.get(name) {
            Some(v) => v.clone(),
            None => {
                let builtin = || {
                    // Which proxies count varies between versions: never sure.
                    let given = BUILTIN_ARGS.contains(&name).then(|| build_args.get(name));
                    given.flatten().map(|v| Val::Unknown(v.clone()))
                };
                let arg = self
                    .args
                    .get(name)
                    .cloned()
                    .or_else(builtin)
                    .unwrap_or(Val::Unset);
                if self.base_env_unknown {
                    Val::Unknown(arg.guess())
                } else {
                    arg
                }
            }
        };
        if self.opaque {
            Val::Unknown(found.guess())
        } else {
            found
        }
    }
}

/// A variable name Docker would use as written (no substitution, quote or escape in it).
pub(super) fn is_literal(name: &str, escape: char) -> bool {
    !name.is_empty() && !name.contains(['$', '"', '\'', escape])
}

/// Whitespace as Docker's `[\t\v\f\r ]+` splits it.
pub(super) fn is_docker_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0b' | '\x0c' | '\r')
}

pub(super) fn expand_val(
    raw: &str,
    escape: char,
    scope: &Scope,
    build_args: &BTreeMap<String, String>,
) -> Val {
    match expand(raw, escape, scope, build_args) {
        Ok(e) if e.unsure.is_empty() => Val::Set(e.text),
        Ok(e) => Val::Unknown(e.text),
        Err(_) => Val::Unknown(String::new()),
    }
}

/// Splits ARG and ENV arguments into words as Docker's `parseWords` does:
/// quotes and escapes are kept (substitution removes them later).
pub(super) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut in_word, mut quote, mut blank_ok) = (false, None, false);
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        i += 1;
        if !in_word && quote.is_none() {
            if c.is_whitespace() {
                continue;
            }
            in_word = true;
        }
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            if c == escape && q != '\'' {
                let Some(&next) = chars.get(i) else {
                    break;
                };
                word.push(c);
                word.push(next);
                i += 1;
                continue;
            }
            word.push(c);
            continue;
        }
        if c.is_whitespace() {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            (in_word, blank_ok) = (false, false);
            continue;
        }
        if c == '\'' || c == '"' {
            (quote, blank_ok) = (Some(c), true);
        }
        if c == escape {
            let Some(&next) = chars.get(i) else {
                break;
            };
            word.push(c);
            word.push(next);
            i += 1;
            continue;
        }
        word.push(c);
    }
    if (in_word || quote.is_some()) && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// A word after substitution, and the variables whose values were not sure.
#[derive(Debug)]
pub(super) struct Expanded {
    pub(super) text: String,
    pub(super) unsure: Vec<String>,
}

/// Substitutes variables and removes quotes and escapes as Docker's shell lexer
/// does with one word. Forms Docker versions read differently (`$1`, `$@`,
/// non-ASCII names, `${x#pattern}`, an unclosed `${`) are errors: refused.
pub(super) fn expand(
    word: &str,
    escape: char,
    scope: &Scope,
    build_args: &BTreeMap<String, String>,
) -> Result<Expanded, String> {
    let mut lexer = Lexer {
        chars: word.chars().collect(),
        pos: 0,
        escape,
        scope,
        build_args,
        unsure: Vec::new(),
    };
    let text = lexer.until(None)?;
    Ok(Expanded {
        text,
        unsure: lexer.unsure,
    })
}

/// A port of the classic builder's `shellWord` (moby/buildkit `shell/lex.go`).
pub(super) struct Lexer<'a> {
    pub(super) chars: Vec<char>,
    pub(super) pos: usize,
    pub(super) escape: char,
    pub(super) scope: &'a Scope,
    pub(super) build_args: &'a BTreeMap<String, String>,
    pub(super) unsure: Vec<String>,
}

impl Lexer<'_> {
    pub(super) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    pub(super) fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += usize::from(c.is_some());
        c
    }

    /// Reads to the end, or past `stop` (the `}` closing `${name:-word}`).
    pub(super) fn until(&mut self, stop: Option<char>) -> Result<String, String> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok(out);
            }
            match c {
                '\'' => out.push_str(&self.single_quoted()?),
                '"' => out.push_str(&self.double_quoted()?),
                '$' => out.push_str(&self.dollar()?),
                _ => {
                    self.pos += 1;
                    if c != self.escape {
                        out.push(c);
                    } else if let Some(next) = self.next() {
                        out.push(next);
                    }
                }
            }
        }
        match stop {
            // Docker 20.10 accepts a missing `}`, later versions do not.
            Some(_) => Err("a ${ is not closed".to_string()),
            None => Ok(out),
        }
    }

    pub(super) fn single_quoted(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err("a single quote is not closed".to_string()),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    pub(super) fn double_quoted(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err("a double quote is not closed".to_string()),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.pos += 1;
                    // In double quotes the escape only escapes `"`, `$` and itself.
                    let escaped = self
                        .peek()
                        .filter(|&n| n == '"' || n == '$' || n == self.escape);
                    match escaped {
                        Some(n) if c == self.escape => {
                            self.pos += 1;
                            out.push(n);
                        }
                        _ if c == self.escape && self.peek().is_none() => {}
                        _ => out.push(c),
                    }
                }
            }
        }
    }

    pub(super) fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name()?;
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(self.value(&name).unwrap_or_default());
        }
        self.pos += 1;
        let name = self.name()?;
        if name.is_empty() {
            return Err("a ${...} has no variable name".to_string());
        }
        match self.next() {
            Some('}') => Ok(self.value(&name).unwrap_or_default()),
            Some(':') => {
                let modifier = self.next();
                self.modifier(&name, modifier, true)
            }
            Some(m @ ('-' | '+' | '?')) => self.modifier(&name, Some(m), false),
            None => Err("a ${ is not closed".to_string()),
            Some(_) => Err(format!(
                "${{{name}...}} is a substitution Docker versions read differently"
            )),
        }
    }

    /// `${name:-word}`, `${name-word}`, `${name:+word}`, `${name+word}`,
    /// `${name:?word}`, `${name?word}`; with a colon, empty counts as unset.
    pub(super) fn modifier(
        &mut self,
        name: &str,
        modifier: Option<char>,
        colon: bool,
    ) -> Result<String, String> {
        let Some(m @ ('-' | '+' | '?')) = modifier else {
            return Err(format!(
                "${{{name}:...}} uses a modifier Docker versions read differently"
            ));
        };
        let mark = self.unsure.len();
        let word = self.until(Some('}'))?;
        let word_unsure = self.unsure.split_off(mark);
        let value = self.value(name);
        let unknown = self.unsure.len() > mark;
        let set = value.as_ref().is_some_and(|v| !(colon && v.is_empty()));
        let use_word = match m {
            '-' => !set,
            '+' => set,
            _ if !set && !unknown => return Err(format!("${name} is not set")),
            _ => false,
        };
        if use_word {
            self.unsure.extend(word_unsure);
            Ok(word)
        } else if m == '+' {
            Ok(String::new())
        } else {
            Ok(value.unwrap_or_default())
        }
    }

    /// A variable name: ASCII letters, digits and `_`, not starting with a digit.
    /// Positional and special parameters and non-ASCII names are read differently
    /// by Docker versions (20.10 takes Unicode letters and one digit): errors.
    pub(super) fn name(&mut self) -> Result<String, String> {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            let special = name.is_empty() && (c.is_ascii_digit() || "@*#?-$!".contains(c));
            if special || !c.is_ascii() {
                return Err(format!(
                    "${c} is a parameter Docker versions read differently"
                ));
            }
            if !(c.is_ascii_alphanumeric() || c == '_') {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        Ok(name)
    }

    /// The variable's value (`None` when unset); records it when not sure.
    pub(super) fn value(&mut self, name: &str) -> Option<String> {
        match self.scope.lookup(name, self.build_args) {
            Val::Set(v) => Some(v),
            Val::Unset => None,
            Val::Unknown(guess) => {
                self.unsure.push(name.to_string());
                Some(guess)
            }
        }
    }
}
