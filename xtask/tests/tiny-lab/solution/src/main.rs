//! Three mutants: `print_answer` emptied (the rubric's check catches it),
//! `log_banner` emptied (nothing checks stderr: missed), `answer` replaced by
//! `Default::default()` (`Answer` has no Default: unviable).

struct Answer(u8);

fn answer() -> Answer {
    Answer(42)
}

fn print_answer() {
    println!("{}", answer().0);
}

fn log_banner() {
    eprintln!("tiny 0.1.0");
}

fn main() {
    log_banner();
    print_answer();
}
