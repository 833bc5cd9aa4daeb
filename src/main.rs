//! The `ksim` binary.

fn main() -> std::process::ExitCode {
    ksim::cli::main()
}
