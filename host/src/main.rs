use clap::Parser;

fn main() {
    let cli = hebb::cli::Cli::parse();
    match hebb::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        // A reader that went away (`| head`) is not an error.
        Err(e) if hebb::cli::is_broken_pipe(&e) => std::process::exit(0),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
