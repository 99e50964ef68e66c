//! The `supplyhub` binary: see [`supplyhub::cli`].

fn main() -> std::process::ExitCode {
    supplyhub::cli::run()
}
