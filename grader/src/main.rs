//! `grader`: the command line over the grader library.
//!
//! Exit codes: 0 when the submission was graded (whatever the score), 2 for bad
//! usage or input (unknown lab, unreadable path, malformed specification), 3 when
//! grading itself failed (Docker unreachable, the probe could not be built),
//! 130 when interrupted.

use clap::{Parser, Subcommand};
use grader::course_key::{self, CourseKey};
use grader::docker::{self, probe, sweep};
use grader::spec::{self, LabSpec};
use grader::{Audience, GradeRequest, batch, report};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "grader",
    version,
    about = "Builds, runs and scores MLOps course lab submissions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Grade one submission and print its score table.
    Grade {
        /// A lab id (see `grader labs`) or a folder holding a lab.toml.
        lab: String,
        /// The submission folder (with its Dockerfile at the top).
        submission: PathBuf,
        #[command(flatten)]
        how: HowToGrade,
        /// Also write the JSON report to this file.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Also append a Markdown summary to this file (e.g. $GITHUB_STEP_SUMMARY).
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// Also write Gradescope's results.json to this file
        /// (/autograder/results/results.json in a Gradescope autograder).
        #[arg(long, value_name = "FILE")]
        gradescope: Option<PathBuf>,
        /// Also write a JUnit XML report to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Also append GitHub Classroom's runner result (`result=<base64>`)
        /// to this file: give it $GITHUB_OUTPUT in a Classroom workflow.
        #[arg(long, value_name = "FILE")]
        classroom: Option<PathBuf>,
        /// Print the JSON report instead of the table.
        #[arg(long)]
        print_json: bool,
        /// Show no progress on stderr (by default: live phase lines on a
        /// terminal, timestamped phase lines in CI or a pipe).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Grade a class: every submission of a roster, journalled, with a
    /// report per student, a gradebook and a class report.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Batch {
        #[command(subcommand)]
        then: Option<BatchCommand>,
        /// A lab id (see `grader labs`) or a folder holding a lab.toml.
        #[arg(required = true)]
        lab: Option<String>,
        /// A folder of submission folders (one per student, named for them),
        /// or a roster CSV with the columns `student,path`.
        #[arg(required = true)]
        roster: Option<PathBuf>,
        /// The folder for the reports, class.json, gradebook.csv, class.html
        /// and, unless --journal says otherwise, the journal.
        #[arg(long, value_name = "DIR", required = true)]
        out: Option<PathBuf>,
        /// The journal (JSON lines) that a rerun resumes from; by default
        /// OUT/journal.jsonl (OUT/journal-shard-I-of-N.jsonl for a shard).
        #[arg(long, value_name = "FILE")]
        journal: Option<PathBuf>,
        /// Grade only shard I of N (the students whose id hashes to it):
        /// its reports and journal, not the class's files (`batch merge`).
        #[arg(long, value_name = "I/N", value_parser = batch::roster::parse_shard)]
        shard: Option<(u32, u32)>,
        /// Grades at once.
        #[arg(long, short = 'j', default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
        /// Image builds at once (the part that takes CPU and memory).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        builds: u16,
        /// How many times a grading error (not a submission's fault) is retried.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=10))]
        retries: u32,
        #[command(flatten)]
        how: HowToGrade,
        /// Show no progress on stderr.
        #[arg(long, short)]
        quiet: bool,
    },
    /// List the labs this grader knows.
    Labs,
    /// Check a lab specification and print its rubric.
    Check {
        /// A lab id or a folder holding a lab.toml.
        lab: String,
        /// Also apply an instructor's private overlay (see `grade --overlay`).
        #[arg(long, env = "GRADER_OVERLAY", value_name = "DIR")]
        overlay: Option<PathBuf>,
    },
    /// Print a lab's rubric as the Markdown table the book includes.
    Rubric {
        /// A lab id or a folder holding a lab.toml.
        lab: String,
    },
    /// Remove the grader's cached images and any container a crashed run left.
    Clean,
    /// Make or read the course key (weeks 6 and 7).
    #[command(subcommand)]
    CourseKey(CourseKeyCommand),
}

#[derive(Subcommand)]
enum BatchCommand {
    /// Join the journals of a class's shards into the class's outputs
    /// (class.json, gradebook.csv, class.html, a joined journal.jsonl).
    Merge {
        /// The lab the shards graded.
        lab: String,
        /// The roster the shards graded.
        roster: PathBuf,
        /// The shards' output folder: every journal*.jsonl in it is read.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Another journal to read (repeatable).
        #[arg(long = "journal", value_name = "FILE")]
        journals: Vec<PathBuf>,
        /// As the shards were graded: the audience, build arguments and
        /// overlay decide which journalled grades are current.
        #[command(flatten)]
        how: HowToGrade,
    },
    /// Print a Kubernetes Indexed Job that grades a class in shards, each pod
    /// with a Docker-in-Docker sidecar, the roster and outputs on a volume.
    Manifest {
        /// The lab to grade.
        lab: String,
        /// Shards (the Job's completions).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
        shards: u32,
        /// Pods at once.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1000))]
        parallelism: u32,
        /// An image holding grader, grader-probe and a POSIX shell.
        #[arg(long, value_name = "IMAGE")]
        image: String,
        /// The Docker-in-Docker image of each pod's engine.
        #[arg(long, value_name = "IMAGE", default_value = "docker:27-dind")]
        dind_image: String,
        /// The PersistentVolumeClaim with the roster, submissions and outputs.
        #[arg(long, value_name = "NAME", default_value = "grader-class")]
        claim: String,
        /// The roster's path on that volume.
        #[arg(long, value_name = "PATH", default_value = "roster.csv")]
        roster: String,
        #[arg(long, value_enum, default_value = "instructor")]
        audience: Audience,
        /// Grades at once in each pod.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
        jobs: u16,
    },
}

#[derive(Subcommand)]
enum CourseKeyCommand {
    /// Make a new course key for a term: writes the identity to FILE (mode
    /// 0600, never over an existing file) and prints the recipient to publish.
    New {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Print the recipient of a course key (by default the practice key's).
    Recipient {
        #[arg(value_name = "FILE|practice", default_value = "practice")]
        key: String,
    },
}

/// How a submission is graded: the same for one and for a class.
#[derive(clap::Args)]
struct HowToGrade {
    /// Who the report is for; students never see hidden checks.
    #[arg(long, value_enum, default_value = "student")]
    audience: Audience,
    /// A build argument for the Dockerfile, KEY=VALUE (repeatable).
    #[arg(long = "build-arg", value_name = "KEY=VALUE", value_parser = parse_build_arg)]
    build_args: Vec<(String, String)>,
    /// Also allow the Dockerfile to build on images matching PATTERN
    /// (`*` within one path segment), beyond those the lab declares and
    /// the build arguments name (repeatable).
    #[arg(long = "allow-image", value_name = "PATTERN")]
    allow_images: Vec<String>,
    /// The OCI runtime the submission runs under, e.g. gVisor's `runsc`
    /// (must be installed in the Docker engine); the engine's default if unset.
    #[arg(long, env = "GRADER_RUNTIME", value_name = "NAME")]
    runtime: Option<String>,
    /// The Docker network the container that fetches the crates a
    /// submission adds to its Cargo.lock joins (one that reaches the crate
    /// registry, through a proxy say); by default a bridge network of its own
    #[arg(long, value_name = "NETWORK")]
    fetch_network: Option<String>,
    /// The age identity with which judges open the files students seal to
    /// the course's recipient (weeks 6 and 7): a key file, `practice` (the
    /// open edition's published key) or `none` (those checks are not run).
    #[arg(
        long,
        env = "MLOPS_COURSE_KEY",
        value_name = "FILE|practice|none",
        default_value = "practice"
    )]
    course_key: String,
    /// An instructor's private overlay: a folder with a `<lab>/overlay.toml`
    /// (hidden checks that are added, or replace public hidden ones) and
    /// `<lab>/snapshots/`; kept outside the public course repository.
    #[arg(long, env = "GRADER_OVERLAY", value_name = "DIR")]
    overlay: Option<PathBuf>,
}

/// What a grade needs that only the command line knows, checked before any
/// grading starts.
struct Prepared {
    docker: bollard::Docker,
    course_key: CourseKey,
}

impl HowToGrade {
    async fn prepare(&self) -> Result<Prepared, Exit> {
        let course_key = CourseKey::from_arg(&self.course_key).map_err(|e| Exit(2, e))?;
        docker::dockerfile::AllowList::new(&self.allow_images)
            .map_err(|e| Exit(2, format!("--allow-image: {e}")))?;
        let docker = connect().await?;
        if let Some(name) = &self.runtime {
            docker::check_runtime(&docker, name)
                .await
                .map_err(|e| Exit(2, e))?;
        }
        Ok(Prepared { docker, course_key })
    }

    /// The lab, with the overlay's hidden checks when one is given.
    fn lab(&self, name: &str) -> Result<LabSpec, Exit> {
        let mut lab = load_lab(name)?;
        if let Some(dir) = &self.overlay {
            lab.apply_overlay(dir).map_err(|e| Exit(2, e.to_string()))?;
        }
        Ok(lab)
    }

    fn build_args(&self) -> BTreeMap<String, String> {
        self.build_args.iter().cloned().collect()
    }
}

fn parse_build_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("\"{s}\" is not KEY=VALUE")),
    }
}

/// A failure with its exit code and one line to print.
struct Exit(u8, String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("GRADER_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("grader: cannot start: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Exit(code, message)) => {
            // An engine's error can quote the submission (an image name, a
            // path): one line, its control characters shown escaped.
            eprintln!("grader: {}", report::safe::terminal_line(&message));
            ExitCode::from(code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Exit> {
    match cli.command {
        Command::Labs => {
            for id in spec::embedded_labs() {
                let lab = load_lab(id)?;
                println!(
                    "{id}  week {:>2}  {}  ({} points)",
                    lab.week,
                    lab.title,
                    lab.max_points()
                );
            }
            Ok(())
        }
        Command::Check { lab, overlay } => {
            let mut lab = load_lab(&lab)?;
            if let Some(dir) = &overlay {
                lab.apply_overlay(dir).map_err(|e| Exit(2, e.to_string()))?;
            }
            println!(
                "{}: {} (week {}), {} points",
                lab.id,
                lab.title,
                lab.week,
                lab.max_points()
            );
            for c in &lab.checks {
                let hidden = if c.visibility == spec::Visibility::Hidden {
                    " (hidden)"
                } else {
                    ""
                };
                println!("  {:<28} {:>3}  {}{hidden}", c.id, c.points, c.title);
            }
            Ok(())
        }
        Command::Rubric { lab } => {
            print!("{}", report::rubric_markdown(&load_lab(&lab)?));
            Ok(())
        }
        Command::CourseKey(CourseKeyCommand::New { out }) => {
            let (text, recipient) = course_key::generate();
            write_new_secret(&out, &text)?;
            println!("{recipient}");
            eprintln!(
                "grader: wrote the identity to {}; keep it with the instructors and publish only the recipient above",
                out.display()
            );
            Ok(())
        }
        Command::CourseKey(CourseKeyCommand::Recipient { key }) => {
            let key = CourseKey::from_arg(&key).map_err(|e| Exit(2, e))?;
            match key.recipient() {
                Some(r) => println!("{r}"),
                None => {
                    return Err(Exit(
                        2,
                        "`none` is no key: give a key file or `practice`".into(),
                    ));
                }
            }
            Ok(())
        }
        Command::Clean => {
            let docker = connect().await?;
            let containers = sweep::sweep_orphans(&docker).await.map_err(grading)?;
            let images = sweep::remove_cached_images(&docker)
                .await
                .map_err(grading)?;
            println!("removed {containers} container(s) and {images} image(s)");
            Ok(())
        }
        Command::Grade {
            lab,
            submission,
            how,
            json,
            markdown,
            gradescope,
            junit,
            classroom,
            print_json,
            quiet,
        } => {
            let lab = how.lab(&lab)?;
            let meta = std::fs::metadata(&submission).map_err(|e| {
                Exit(
                    2,
                    format!("cannot read the submission {}: {e}", submission.display()),
                )
            })?;
            if !meta.is_dir() {
                return Err(Exit(
                    2,
                    format!("the submission {} is not a folder", submission.display()),
                ));
            }
            let Prepared { docker, course_key } = how.prepare().await?;
            let request = GradeRequest {
                lab,
                submission,
                build_args: how.build_args(),
                audience: how.audience,
                probe_exe: probe::locate(),
                runtime: how.runtime,
                allow_images: how.allow_images,
                progress: grader::progress::for_stderr(quiet),
                fetch_network: how.fetch_network,
                course_key,
                build_slots: None,
            };
            let graded = tokio::select! {
                r = grader::grade(&docker, &request) => r,
                _ = tokio::signal::ctrl_c() => {
                    // Leave nothing behind: this process's containers go now.
                    request.progress.finish();
                    let _ = sweep_own(&docker).await;
                    return Err(Exit(130, "interrupted; removed this run's containers".into()));
                }
            };
            request.progress.finish();
            let report = graded.map_err(|e| Exit(3, format!("grading failed: {e}")))?;
            if let Some(path) = &json {
                write(path, &report::json(&report), false)?;
            }
            if let Some(path) = &markdown {
                write(path, &report::markdown(&report), true)?;
            }
            if let Some(path) = &gradescope {
                write(path, &report::gradescope(&report), false)?;
            }
            if let Some(path) = &junit {
                write(path, &report::junit(&report), false)?;
            }
            if let Some(path) = &classroom {
                write(path, &report::classroom_output(&report), true)?;
            }
            if print_json {
                println!("{}", report::json(&report));
            } else {
                let colour =
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
                print!("{}", report::table(&report, colour));
            }
            Ok(())
        }
        Command::Batch {
            then: Some(then), ..
        } => batch_command(then).await,
        Command::Batch {
            then: None,
            lab,
            roster,
            out,
            journal,
            shard,
            jobs,
            builds,
            retries,
            how,
            quiet,
        } => {
            // clap requires these when no subcommand is given.
            let (Some(lab), Some(roster), Some(out)) = (lab, roster, out) else {
                return Err(Exit(2, "batch needs a lab, a roster and --out".into()));
            };
            let lab = how.lab(&lab)?;
            let mut roster = batch::roster::read(&roster).map_err(|e| Exit(2, e))?;
            if let Some((i, n)) = shard {
                roster = batch::roster::shard(roster, i, n);
            }
            std::fs::create_dir_all(&out)
                .map_err(|e| Exit(2, format!("cannot make {}: {e}", out.display())))?;
            batch::git::fetch(&mut roster, &out.join("clones")).map_err(|e| Exit(2, e))?;
            let journal = journal.unwrap_or_else(|| match shard {
                Some((i, n)) => out.join(format!("journal-shard-{i}-of-{n}.jsonl")),
                None => out.join("journal.jsonl"),
            });
            let journal =
                Arc::new(batch::journal::Journal::open(&journal).map_err(|e| Exit(2, e))?);
            let Prepared { docker, course_key } = how.prepare().await?;
            let options = batch::Options {
                jobs: jobs.into(),
                builds: builds.into(),
                retries,
                retry_pause: std::time::Duration::from_secs(5),
                audience: how.audience,
                build_args: how.build_args(),
                allow_images: how.allow_images.clone(),
                runtime: how.runtime.clone(),
                fetch_network: how.fetch_network.clone(),
                course_key,
                probe_exe: probe::locate(),
            };
            let progress = batch::progress_for_stderr(quiet);
            let outcome = tokio::select! {
                o = batch::run(&docker, &lab, &roster, journal.clone(), &options, progress.clone()) => o,
                _ = tokio::signal::ctrl_c() => {
                    progress.finish();
                    let _ = sweep_own(&docker).await;
                    return Err(Exit(130, format!(
                        "interrupted; what was graded is in {}: run the same command again to go on",
                        journal.path().display()
                    )));
                }
            };
            print!("{}", batch::summary(&lab, &outcome));
            if shard.is_some() {
                // A shard's files are its reports; the class's come from the merge.
                batch::outputs::write_reports(&out, &outcome.entries).map_err(|e| Exit(3, e))?;
                println!(
                    "wrote {} and this shard's reports in {}; `grader batch merge` makes the class's files",
                    journal.path().display(),
                    out.join("reports").display()
                );
            } else {
                batch::outputs::write(&out, &lab, &outcome.entries).map_err(|e| Exit(3, e))?;
                println!("{}", wrote(&out));
            }
            not_graded(outcome.errors)
        }
    }
}

/// Where a batch's class files are.
fn wrote(out: &Path) -> String {
    format!(
        "wrote {}, {}, {} and a report per graded student in {}",
        out.join("class.html").display(),
        out.join("gradebook.csv").display(),
        out.join("class.json").display(),
        out.join("reports").display()
    )
}

/// Exit code 3 when some submissions are left without a grade.
fn not_graded(errors: usize) -> Result<(), Exit> {
    if errors > 0 {
        return Err(Exit(
            3,
            format!(
                "{errors} submission(s) not graded (see class.json): run the same command again to retry them"
            ),
        ));
    }
    Ok(())
}

async fn batch_command(then: BatchCommand) -> Result<(), Exit> {
    match then {
        BatchCommand::Merge {
            lab,
            roster,
            out,
            journals,
            how,
        } => {
            let lab = how.lab(&lab)?;
            let mut roster = batch::roster::read(&roster).map_err(|e| Exit(2, e))?;
            // The shards' clones, where they graded them.
            for entry in roster.iter_mut().filter(|e| e.git.is_some()) {
                entry.path = out.join("clones").join(&entry.student);
            }
            let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
                .map_err(|e| Exit(2, format!("cannot read {}: {e}", out.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("journal") && n.ends_with(".jsonl"))
                })
                .collect();
            files.sort();
            files.extend(journals);
            if files.is_empty() {
                return Err(Exit(
                    2,
                    format!("no journal*.jsonl in {} to merge", out.display()),
                ));
            }
            let mut records = Vec::new();
            for file in &files {
                records.extend(batch::journal::read(file).map_err(|e| Exit(2, e))?);
            }
            let options = batch::Options {
                jobs: 1,
                builds: 1,
                retries: 0,
                retry_pause: std::time::Duration::ZERO,
                audience: how.audience,
                build_args: how.build_args(),
                allow_images: Vec::new(),
                runtime: None,
                fetch_network: None,
                course_key: CourseKey::from_arg("none").map_err(|e| Exit(2, e))?,
                probe_exe: PathBuf::new(),
            };
            let outcome = batch::merge(&lab, &roster, &records, &options).await;
            batch::outputs::write_journal(&out.join("journal.jsonl"), &records)
                .map_err(|e| Exit(3, e))?;
            batch::outputs::write(&out, &lab, &outcome.entries).map_err(|e| Exit(3, e))?;
            print!("{}", batch::summary(&lab, &outcome));
            println!("{}", wrote(&out));
            not_graded(outcome.errors)
        }
        BatchCommand::Manifest {
            lab,
            shards,
            parallelism,
            image,
            dind_image,
            claim,
            roster,
            audience,
            jobs,
        } => {
            let known = load_lab(&lab)?;
            let job = batch::kubernetes::indexed_job(&batch::kubernetes::JobParams {
                lab: &known.id,
                shards,
                parallelism: parallelism.min(shards),
                image: &image,
                dind_image: &dind_image,
                claim: &claim,
                roster: &roster,
                audience,
                jobs,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&job).map_err(|e| Exit(3, e.to_string()))?
            );
            Ok(())
        }
    }
}

/// An embedded lab by id, or a lab folder on disk.
fn load_lab(name: &str) -> Result<LabSpec, Exit> {
    let path = Path::new(name);
    if path.join("lab.toml").is_file() {
        return LabSpec::from_dir(path).map_err(|e| Exit(2, e.to_string()));
    }
    match spec::embedded_lab(name) {
        Some(lab) => lab.map_err(|e| Exit(2, e.to_string())),
        None => Err(Exit(
            2,
            format!(
                "unknown lab \"{name}\" (known: {}; or give a folder holding a lab.toml)",
                spec::embedded_labs().collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

async fn connect() -> Result<bollard::Docker, Exit> {
    docker::connect()
        .await
        .map_err(|e| Exit(3, format!("cannot reach the Docker engine: {e}")))
}

fn grading(e: bollard::errors::Error) -> Exit {
    Exit(3, format!("Docker: {e}"))
}

async fn sweep_own(docker: &bollard::Docker) -> Result<(), bollard::errors::Error> {
    use bollard::query_parameters::ListContainersOptionsBuilder;
    let filters = std::collections::HashMap::from([(
        "label",
        vec![format!(
            "{}={}",
            docker::labels::OWNER,
            docker::labels::owner()
        )],
    )]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    for c in docker.list_containers(Some(opts)).await? {
        if let Some(id) = c.id {
            sweep::remove_container(docker, &id).await?;
        }
    }
    Ok(())
}

/// Writes a secret to a new file, readable by its owner only; never over an
/// existing file (a term's key lost by mistake cannot be made again).
fn write_new_secret(path: &Path, text: &str) -> Result<(), Exit> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let result = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
    result.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Exit(
            2,
            format!(
                "{} exists; a course key is never overwritten: choose another file",
                path.display()
            ),
        ),
        _ => Exit(2, format!("cannot write {}: {e}", path.display())),
    })
}

fn write(path: &Path, text: &str, append: bool) -> Result<(), Exit> {
    use std::io::Write;
    let result = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    result.map_err(|e| Exit(2, format!("cannot write {}: {e}", path.display())))
}
