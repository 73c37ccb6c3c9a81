use clap::Parser;

fn main() {
    let cli = hebb::cli::Cli::parse();
    match hebb::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
