//! The `ksim` binary.

/// A run allocates and frees millions of small records and batches;
/// mimalloc does that much faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ksim::cli::main()
}
