//! Reading a submission's Dockerfile as Docker does, before any build, and
//! refusing what would make the Docker daemon fetch from the network.
//!
//! The grader builds with the network off, but that only reaches the containers
//! of `RUN`: the daemon itself fetches `ADD <url>` sources, and pulls every image
//! a Dockerfile names that it lacks (`FROM`, `COPY --from=<image>`) from wherever
//! the name points. So every instruction is read with a real parser
//! (`parse-dockerfile`, which follows BuildKit's), variables are substituted as
//! the engine's classic builder (Docker 20.10) does, and:
//! - `ADD` of a URL or a git source is refused;
//! - heredocs are refused (the classic builder reads their lines as instructions);
//! - every image the build uses is returned, and [`check`] refuses those that are
//!   neither allowed nor named by the grader's build arguments.
//!
//! Where the parser crate and Docker could read the same text differently
//! (Unicode or vertical whitespace, a lone carriage return, quoted flags, a JSON
//! form followed by text, the position of `# escape=`), or where a value cannot
//! be known before the build (a variable the base image's `ENV` may set), the
//! Dockerfile is refused rather than guessed at.

use parse_dockerfile::{
    AddInstruction, ArgInstruction, CopyInstruction, EnvInstruction, Flag, FromInstruction,
    Instruction, RunInstruction, Source,
};
use std::collections::BTreeMap;
use std::fmt;

/// An image the build would use, after ARG substitution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUse {
    /// The normalised reference, as the daemon pulls it (`docker.io/library/python:3.12`).
    pub reference: String,
    /// The 1-based Dockerfile line of the instruction.
    pub line: usize,
    /// `"FROM"`, `"COPY --from"`, `"ADD --from"` or `"RUN --mount from"`.
    pub how: &'static str,
    /// `FROM --platform=...` after substitution: the daemon pulls that platform's image.
    pub platform: Option<String>,
}

/// Why a Dockerfile is refused: one line a student can act on, naming the Dockerfile line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The 1-based Dockerfile line.
    pub line: usize,
    /// `Dockerfile line N: ...`, on one line.
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

mod guards;
mod reference;
mod variables;

pub use reference::{AllowList, normalise};

use guards::*;
use variables::*;

/// Reads the Dockerfile with the build arguments (the grader's build args win over
/// ARG defaults) and returns every image the build uses, or the first refusal.
///
/// `dockerfile` must be the file's exact text: a file that is not UTF-8 must be
/// refused by the caller, not converted.
pub fn inputs(
    dockerfile: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<Vec<ImageUse>, Refusal> {
    read(dockerfile, build_args, None)
}

/// [`inputs`] plus the allow-list: images the build args name (after
/// normalisation) are allowed too; `scratch` and earlier stages (by name,
/// case-insensitive, or by index for `COPY --from=0`) are not images.
///
/// Every build-arg value that is a valid reference counts as named, whatever the
/// argument: `GIT_REVISION=abc123` allows `docker.io/library/abc123:latest`.
/// The grader chooses its build args, so this only ever reaches Docker Hub
/// names it wrote itself.
pub fn check(
    dockerfile: &str,
    build_args: &BTreeMap<String, String>,
    allow: &AllowList,
) -> Result<Vec<ImageUse>, Refusal> {
    let named = build_args.values().filter_map(|v| normalise(v)).collect();
    read(dockerfile, build_args, Some(&Policy { allow, named }))
}

/// What `check` allows besides the allow-list: the images the build args name.
struct Policy<'a> {
    allow: &'a AllowList,
    named: Vec<String>,
}

impl Policy<'_> {
    fn allows(&self, reference: &str) -> bool {
        self.named.iter().any(|n| n == reference) || self.allow.allows(reference)
    }

    /// The patterns, as the lab and the instructor wrote them. The build
    /// arguments' images are only summed up: every argument counts, so the
    /// list would show names such as `docker.io/library/unknown:latest`.
    fn describe(&self) -> String {
        let patterns: Vec<&str> = self
            .allow
            .patterns
            .iter()
            .map(|(given, _)| given.as_str())
            .collect();
        match (patterns.is_empty(), self.named.is_empty()) {
            (true, true) => "none".to_string(),
            (true, false) => "the images the build arguments name".to_string(),
            (false, true) => patterns.join(", "),
            (false, false) => format!(
                "{}, and the images the build arguments name",
                patterns.join(", ")
            ),
        }
    }
}

fn read(
    dockerfile: &str,
    build_args: &BTreeMap<String, String>,
    policy: Option<&Policy<'_>>,
) -> Result<Vec<ImageUse>, Refusal> {
    // Docker drops a UTF-8 byte-order mark; line numbers do not count it.
    let text = dockerfile.strip_prefix('\u{feff}').unwrap_or(dockerfile);
    check_characters(text)?;
    let escape = escape_directive(text)?;
    // `# syntax=` needs no handling: the classic builder ignores it.
    let parsed = parse_dockerfile::parse(text)
        .map_err(|e| refusal(e.line().max(1), format_args!("{e:#}")))?;
    let parsed_escape = parsed.parser_directives.escape.as_ref();
    if parsed_escape.map_or('\\', |d| d.value.value) != escape {
        return Err(refusal(
            1,
            "the parser directives at the top are read differently by Docker versions; \
             put `# escape=` alone on the first line, or remove it",
        ));
    }
    let mut reader = Reader {
        text,
        escape,
        build_args,
        policy,
        global: Scope::default(),
        done: Vec::new(),
        current: None,
        uses: Vec::new(),
        last_line: 1,
    };
    for instruction in &parsed.instructions {
        let line = keyword_start(instruction).map_or(reader.last_line, |s| reader.line_of(s));
        reader.last_line = line;
        reader.instruction(instruction, line, false)?;
    }
    Ok(reader.uses)
}

/// A stage: its name (lowercased, as Docker compares them) and its variables.
struct Stage {
    name: Option<String>,
    scope: Scope,
    /// It has ONBUILD triggers, which run in any stage built FROM it.
    onbuild: bool,
}

/// Walks the instructions in order, as the classic builder dispatches them.
struct Reader<'a> {
    text: &'a str,
    escape: char,
    build_args: &'a BTreeMap<String, String>,
    policy: Option<&'a Policy<'a>>,
    /// The ARGs before the first FROM: the only variables FROM lines see.
    global: Scope,
    /// Completed stages, the ones `FROM`, `COPY --from` and indexes can name.
    done: Vec<Stage>,
    current: Option<Stage>,
    uses: Vec<ImageUse>,
    last_line: usize,
}

impl Reader<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text.get(..offset).map_or(self.last_line, |t| {
            t.bytes().filter(|&b| b == b'\n').count() + 1
        })
    }

    fn instruction(
        &mut self,
        instruction: &Instruction<'_>,
        line: usize,
        onbuild: bool,
    ) -> Result<(), Refusal> {
        match instruction {
            Instruction::From(_) if onbuild => Err(refusal(line, "ONBUILD FROM is not allowed")),
            Instruction::From(from) => self.from(from, line),
            // ONBUILD ARG and ENV run in a later build; the stage built on this one
            // cannot know its variables (see `from`).
            Instruction::Arg(_) | Instruction::Env(_) if onbuild => Ok(()),
            Instruction::Arg(arg) => {
                self.arg(arg);
                Ok(())
            }
            Instruction::Env(env) => {
                self.env(env);
                Ok(())
            }
            Instruction::Add(add) => self.add(add, line, onbuild),
            Instruction::Copy(copy) => self.copy(copy, line, onbuild),
            Instruction::Run(run) => self.run(run, line, onbuild),
            Instruction::Onbuild(inner) => {
                if let Some(stage) = &mut self.current {
                    stage.onbuild = true;
                }
                self.instruction(&inner.instruction, line, true)
            }
            Instruction::Healthcheck(h) => check_flags(&h.options, line),
            Instruction::Cmd(_)
            | Instruction::Entrypoint(_)
            | Instruction::Expose(_)
            | Instruction::Label(_)
            | Instruction::Maintainer(_)
            | Instruction::Shell(_)
            | Instruction::Stopsignal(_)
            | Instruction::User(_)
            | Instruction::Volume(_)
            | Instruction::Workdir(_) => Ok(()),
            _ => Err(refusal(
                line,
                "an instruction this grader does not know how to check",
            )),
        }
    }

    fn from(&mut self, from: &FromInstruction<'_>, line: usize) -> Result<(), Refusal> {
        check_flags(&from.options, line)?;
        let platform = match flag(&from.options, "platform") {
            Some(raw) => {
                let raw = raw.ok_or_else(|| refusal(line, "FROM --platform needs a value"))?;
                let value = self.sure(raw, &self.global, line, "FROM --platform")?;
                (!value.is_empty()).then_some(value)
            }
            None => None,
        };
        let raw = &*from.image.value;
        let image = self.sure(raw, &self.global, line, "FROM")?;
        if image.is_empty() || image.contains('$') {
            return Err(refusal(
                line,
                format_args!(
                    "FROM {} names no image once its variables are substituted ({}); \
                     is a build argument missing?",
                    shown(raw),
                    shown(&image)
                ),
            ));
        }
        if let Some(stage) = self.current.take() {
            self.done.push(stage);
        }
        let lower = image.to_lowercase();
        let parent = self
            .done
            .iter()
            .rev()
            .find(|s| s.name.as_deref() == Some(lower.as_str()));
        let scope = if let Some(parent) = parent {
            // A stage built on an earlier one inherits its ENV; its ONBUILD
            // triggers run first and may set anything.
            Scope {
                env: parent.scope.env.clone(),
                args: BTreeMap::new(),
                base_env_unknown: parent.scope.base_env_unknown,
                opaque: parent.scope.opaque || parent.onbuild,
            }
        } else if image == "scratch" {
            Scope::scratch()
        } else {
            self.image(&image, "FROM", line, platform)?;
            Scope {
                base_env_unknown: true,
                ..Scope::default()
            }
        };
        let name = from.as_.as_ref().map(|(_, n)| n.value.to_lowercase());
        self.current = Some(Stage {
            name,
            scope,
            onbuild: false,
        });
        Ok(())
    }

    fn arg(&mut self, arg: &ArgInstruction<'_>) {
        let (escape, build_args) = (self.escape, self.build_args);
        let stage = self.current.is_some();
        for word in parse_words(&arg.arguments.value, escape) {
            let (key, default) = match word.split_once('=') {
                Some((k, d)) => (k.to_string(), Some(d.to_string())),
                None => (word, None),
            };
            let scope = self.scope();
            if !is_literal(&key, escape) {
                self.scope_mut().opaque = true;
                continue;
            }
            // Docker expands the default even when a build argument overrides it.
            let default = default.map(|d| expand_val(&d, escape, scope, build_args));
            let value = match (build_args.get(&key), default) {
                (Some(v), _) => Val::Set(v.clone()),
                (None, Some(d)) => d,
                // A global ARG redeclared without a value in a stage takes its global value.
                (None, None) if stage => self.global.args.get(&key).cloned().unwrap_or(Val::Unset),
                (None, None) => Val::Unset,
            };
            self.scope_mut().args.insert(key, value);
        }
    }

    fn env(&mut self, env: &EnvInstruction<'_>) {
        let (escape, build_args) = (self.escape, self.build_args);
        let raw = &*env.arguments.value;
        let words = parse_words(raw, escape);
        let pairs: Vec<(String, String)> = if words.first().is_some_and(|w| !w.contains('=')) {
            // The old form, `ENV name value...`: the value is the rest of the line.
            raw.split_once(is_docker_space)
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        v.trim_start_matches(is_docker_space).to_string(),
                    )
                })
                .into_iter()
                .collect()
        } else {
            let split = words.iter().filter_map(|w| w.split_once('='));
            split.map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        // Every value sees the variables as they were before this ENV.
        let scope = self.scope();
        let values: Vec<(String, Val)> = pairs
            .into_iter()
            .map(|(k, v)| {
                let value = expand_val(&v, escape, scope, build_args);
                (k, value)
            })
            .collect();
        let scope = self.scope_mut();
        for (key, value) in values {
            if is_literal(&key, escape) {
                scope.env.insert(key, value);
            } else {
                scope.opaque = true;
            }
        }
    }

    fn add(&mut self, add: &AddInstruction<'_>, line: usize, onbuild: bool) -> Result<(), Refusal> {
        check_flags(&add.options, line)?;
        self.check_from_flags(&add.options, "ADD --from", line, onbuild)?;
        let mut paths = Vec::new();
        for src in &add.src {
            match src {
                Source::Path(p) => paths.push(p),
                _ => return Err(heredoc(line)),
            }
        }
        for path in &paths {
            self.add_source(&path.value, line, onbuild)?;
        }
        // Docker reads `[...]` as JSON even with text after it, where the parser
        // falls back to the shell form: read the JSON too.
        let Some(first) = paths.first() else {
            return Ok(());
        };
        let json_form = (self.text.get(..first.span.start)).is_some_and(|t| t.ends_with('"'));
        if json_form || !first.value.starts_with('[') {
            return Ok(());
        }
        let words: Vec<&str> = (paths.iter().map(|p| &*p.value))
            .chain([&*add.dest.value])
            .collect();
        let decoded = json_array_prefix(&words.join(" ")).ok_or_else(|| {
            refusal(
                line,
                "ADD's arguments start with [ but are not a JSON array of strings; \
                 write [\"source\", \"destination\"] or leave the brackets out",
            )
        })?;
        let sources = decoded.len().saturating_sub(1);
        for source in decoded.iter().take(sources) {
            self.add_source(source, line, onbuild)?;
        }
        Ok(())
    }

    fn add_source(&self, raw: &str, line: usize, onbuild: bool) -> Result<(), Refusal> {
        let remote = |kind: &str, what: &str| {
            refusal(
                line,
                format_args!(
                    "ADD of {kind} ({what}) is not allowed: the daemon would fetch it from the \
                     network; download it into the repository and COPY it"
                ),
            )
        };
        if let Some(kind) = remote_kind(raw) {
            return Err(remote(kind, &shown(raw)));
        }
        if onbuild {
            return plain_in_onbuild(raw, "ADD", line);
        }
        let expanded = self.expand(raw, self.scope(), line, "ADD")?;
        if let Some(kind) = remote_kind(&expanded.text) {
            let what = format!("{} = {}", shown(raw), shown(&expanded.text));
            return Err(remote(kind, &what));
        }
        self.unsure(&expanded, raw, self.scope(), line, "ADD")
    }

    fn copy(
        &mut self,
        copy: &CopyInstruction<'_>,
        line: usize,
        onbuild: bool,
    ) -> Result<(), Refusal> {
        check_flags(&copy.options, line)?;
        self.check_from_flags(&copy.options, "COPY --from", line, onbuild)?;
        if copy.src.iter().any(|s| !matches!(s, Source::Path(_))) {
            return Err(heredoc(line));
        }
        Ok(())
    }

    fn run(&mut self, run: &RunInstruction<'_>, line: usize, onbuild: bool) -> Result<(), Refusal> {
        check_flags(&run.options, line)?;
        if !run.here_docs.is_empty() {
            return Err(heredoc(line));
        }
        for mount in run
            .options
            .iter()
            .filter(|f| f.name.value.eq_ignore_ascii_case("mount"))
        {
            let raw = mount.value.as_ref().map_or("", |v| &*v.value);
            if onbuild {
                plain_in_onbuild(raw, "RUN --mount", line)?;
            }
            let value = self.sure(raw, self.scope(), line, "RUN --mount")?;
            if value.contains('"') {
                return Err(refusal(
                    line,
                    "RUN --mount's options must not contain quotes",
                ));
            }
            let fields = value.split(',').filter_map(|f| f.split_once('='));
            for (_, from) in fields.filter(|(k, _)| k.trim().eq_ignore_ascii_case("from")) {
                self.stage_or_image(from.trim(), "RUN --mount from", line)?;
            }
        }
        Ok(())
    }

    /// `--from=X` of COPY (and ADD): an earlier stage, or an image.
    fn check_from_flags(
        &mut self,
        flags: &[Flag<'_>],
        how: &'static str,
        line: usize,
        onbuild: bool,
    ) -> Result<(), Refusal> {
        for f in flags
            .iter()
            .filter(|f| f.name.value.eq_ignore_ascii_case("from"))
        {
            let raw = f.value.as_ref().map(|v| &*v.value);
            let raw = raw.ok_or_else(|| refusal(line, format_args!("{how} needs a value")))?;
            if onbuild {
                plain_in_onbuild(raw, how, line)?;
            }
            let value = self.sure(raw, self.scope(), line, how)?;
            self.stage_or_image(&value, how, line)?;
        }
        Ok(())
    }

    /// As the classic builder resolves `--from`: a completed stage by name
    /// (case-insensitive) or index, else an image it pulls.
    fn stage_or_image(
        &mut self,
        value: &str,
        how: &'static str,
        line: usize,
    ) -> Result<(), Refusal> {
        if value.is_empty() {
            return Err(refusal(line, format_args!("{how}= names nothing")));
        }
        let lower = value.to_lowercase();
        if self
            .done
            .iter()
            .any(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Ok(());
        }
        if let Ok(index) = value.parse::<i64>() {
            if usize::try_from(index).is_ok_and(|i| i < self.done.len()) {
                return Ok(());
            }
            return Err(refusal(
                line,
                format_args!(
                    "{} names no earlier stage (stages are numbered from 0)",
                    naming(how, value)
                ),
            ));
        }
        self.image(value, how, line, None)
    }

    /// Records an image the daemon would pull, refusing it unless allowed.
    fn image(
        &mut self,
        image: &str,
        how: &'static str,
        line: usize,
        platform: Option<String>,
    ) -> Result<(), Refusal> {
        let Some(reference) = normalise(image) else {
            return Err(refusal(
                line,
                format_args!("{} is not a valid image reference", naming(how, image)),
            ));
        };
        if let Some(policy) = self.policy
            && !policy.allows(&reference)
        {
            let also = if reference == image {
                String::new()
            } else {
                format!(" ({reference})")
            };
            return Err(refusal(
                line,
                format_args!(
                    "{}{also} is not an image this lab allows (allowed: {}); \
                     an instructor can add it with --allow-image",
                    naming(how, image),
                    policy.describe()
                ),
            ));
        }
        let seen = (self.uses.iter()).any(|u| u.reference == reference && u.platform == platform);
        if !seen {
            self.uses.push(ImageUse {
                reference,
                line,
                how,
                platform,
            });
        }
        Ok(())
    }

    /// The current stage's variables (every FROM starts one, so it is there after
    /// the first; before it, the global ones).
    fn scope(&self) -> &Scope {
        self.current.as_ref().map_or(&self.global, |s| &s.scope)
    }

    fn scope_mut(&mut self) -> &mut Scope {
        match &mut self.current {
            Some(stage) => &mut stage.scope,
            None => &mut self.global,
        }
    }

    fn expand(
        &self,
        raw: &str,
        scope: &Scope,
        line: usize,
        what: &str,
    ) -> Result<Expanded, Refusal> {
        expand(raw, self.escape, scope, self.build_args).map_err(|e| {
            refusal(
                line,
                format_args!(
                    "{what} {}: {e}, which the grader cannot read for sure",
                    shown(raw)
                ),
            )
        })
    }

    /// `raw` substituted, refused unless every variable in it is known for sure.
    fn sure(&self, raw: &str, scope: &Scope, line: usize, what: &str) -> Result<String, Refusal> {
        let expanded = self.expand(raw, scope, line, what)?;
        self.unsure(&expanded, raw, scope, line, what)?;
        Ok(expanded.text)
    }

    fn unsure(
        &self,
        expanded: &Expanded,
        raw: &str,
        scope: &Scope,
        line: usize,
        what: &str,
    ) -> Result<(), Refusal> {
        let Some(name) = expanded.unsure.first() else {
            return Ok(());
        };
        let (why, hint) = if scope.opaque {
            (
                "this stage's variables cannot be known before the build",
                "",
            )
        } else if scope.base_env_unknown {
            (
                "the base image's ENV may set it, and ENV wins over ARG",
                ", or set it with ENV in this stage",
            )
        } else {
            ("its value cannot be known before the build", "")
        };
        Err(refusal(
            line,
            format_args!(
                "{what} {} uses ${name}, which the grader cannot be sure of ({why}); \
                 write the value itself{hint}",
                shown(raw)
            ),
        ))
    }
}

/// The byte offset of an instruction's keyword, for its line number.
fn keyword_start(instruction: &Instruction<'_>) -> Option<usize> {
    let span = match instruction {
        Instruction::Add(i) => &i.add.span,
        Instruction::Arg(i) => &i.arg.span,
        Instruction::Cmd(i) => &i.cmd.span,
        Instruction::Copy(i) => &i.copy.span,
        Instruction::Entrypoint(i) => &i.entrypoint.span,
        Instruction::Env(i) => &i.env.span,
        Instruction::Expose(i) => &i.expose.span,
        Instruction::From(i) => &i.from.span,
        Instruction::Healthcheck(i) => &i.healthcheck.span,
        Instruction::Label(i) => &i.label.span,
        Instruction::Maintainer(i) => &i.maintainer.span,
        Instruction::Onbuild(i) => &i.onbuild.span,
        Instruction::Run(i) => &i.run.span,
        Instruction::Shell(i) => &i.shell.span,
        Instruction::Stopsignal(i) => &i.stopsignal.span,
        Instruction::User(i) => &i.user.span,
        Instruction::Volume(i) => &i.volume.span,
        Instruction::Workdir(i) => &i.workdir.span,
        _ => return None,
    };
    Some(span.start)
}

fn refusal(line: usize, what: impl fmt::Display) -> Refusal {
    let what: String = (what.to_string().chars())
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    Refusal {
        line,
        message: format!("Dockerfile line {line}: {what}"),
    }
}

fn heredoc(line: usize) -> Refusal {
    refusal(
        line,
        "heredocs (<<EOF) are BuildKit syntax, but the grader builds with Docker's classic \
         builder, which reads each line of a heredoc as an instruction of its own; \
         write the script to a file, COPY it and RUN it",
    )
}

/// A value as shown in a message: at most 100 characters.
fn shown(value: &str) -> String {
    match value.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_string(),
    }
}

fn naming(how: &str, value: &str) -> String {
    if how == "FROM" {
        format!("FROM {}", shown(value))
    } else {
        format!("{how}={}", shown(value))
    }
}

#[cfg(test)]
mod tests;
