//! The `latchkey` command: see `latchkey --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    latchkey::main()
}
