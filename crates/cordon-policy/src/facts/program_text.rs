//! Program text that some everyday commands take as an argument, read for what it can do beyond
//! the command's own operands: awk's `system()`, `getline` and `print > file`; sed's `r`, `w`
//! and `e` commands and the `e`/`w` flags of `s`; SQL's `ATTACH` and sqlite3's dot-commands.
//! What a reader here cannot follow counts as code that runs, never as harmless text.

/// What a program text does beyond transforming its input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Effects {
    /// Why the text runs other programs or does I/O cordon does not follow (then: inline code).
    pub runs_code: Option<String>,
    /// Files it reads, as written (relative to the command's cwd).
    pub reads: Vec<String>,
    /// Files it writes, as written.
    pub writes: Vec<String>,
    /// It reads the environment (awk's `ENVIRON`).
    pub reads_environment: bool,
}

impl Effects {
    fn code(why: impl Into<String>) -> Effects {
        Effects {
            runs_code: Some(why.into()),
            ..Effects::default()
        }
    }
}

/// Devices sed treats specially; they are not files it reads or writes.
const SED_STREAMS: &[&str] = &["/dev/stdout", "/dev/stderr", "/dev/stdin"];

// --- awk ------------------------------------------------------------------------------------------

/// An awk program: I/O redirection, pipes, `getline`, `system()` and extensions are code cordon
/// does not follow.
pub(super) fn awk(program: &str) -> Effects {
    let (code, strings) = strip_awk_literals(program);
    // A string that is an absolute or home path is at least read (`getline < "/path"`), so a
    // credentials path in the program is judged even where the program is asked as code.
    let mut effects = Effects {
        reads: strings
            .into_iter()
            .filter(|s| s.starts_with('/') || s.starts_with("~/"))
            .collect(),
        ..Effects::default()
    };
    for word in ["system", "getline", "@load", "@include", "@namespace"] {
        if contains_word(&code, word) {
            effects.runs_code = Some(format!("the awk program uses `{word}`"));
            return effects;
        }
    }
    let bytes = code.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let next = bytes.get(i + 1).copied();
        let prev = i.checked_sub(1).and_then(|p| bytes.get(p)).copied();
        if b == b'|' && next != Some(b'|') && prev != Some(b'|') {
            effects.runs_code = Some("the awk program pipes to or from a command".to_string());
            return effects;
        }
    }
    if print_redirects(&code) {
        effects.runs_code = Some("the awk program writes output to a file or command".to_string());
        return effects;
    }
    effects.reads_environment = contains_word(&code, "ENVIRON");
    effects
}

/// The awk program with strings, regular expressions and comments blanked out, so that only code
/// is searched; and the strings it holds.
fn strip_awk_literals(program: &str) -> (String, Vec<String>) {
    let mut strings = Vec::new();
    let mut out = String::with_capacity(program.len());
    let mut chars = program.chars().peekable();
    // Whether the last significant token ends an operand (then `/` divides).
    let mut after_operand = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut string = String::new();
                while let Some(s) = chars.next() {
                    match s {
                        '\\' => {
                            string.extend(chars.next());
                        }
                        '"' => break,
                        _ => string.push(s),
                    }
                }
                strings.push(string);
                out.push_str("\"\"");
                after_operand = true;
            }
            '/' if !after_operand => {
                while let Some(s) = chars.next() {
                    match s {
                        '\\' => {
                            chars.next();
                        }
                        '/' | '\n' => break,
                        _ => {}
                    }
                }
                out.push_str("//");
                after_operand = true;
            }
            '#' => {
                for s in chars.by_ref() {
                    if s == '\n' {
                        out.push('\n');
                        break;
                    }
                }
                after_operand = false;
            }
            _ => {
                out.push(c);
                if !c.is_whitespace() {
                    after_operand = c.is_alphanumeric() || matches!(c, '_' | ')' | ']' | '$');
                }
            }
        }
    }
    (out, strings)
}

fn contains_word(code: &str, word: &str) -> bool {
    code.match_indices(word).any(|(at, _)| {
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

/// `print … > file` / `printf … >> file`: a `>` at parenthesis depth 0 inside a print statement.
fn print_redirects(code: &str) -> bool {
    for keyword in ["print", "printf"] {
        for (at, _) in code.match_indices(keyword) {
            if !contains_word(&code[at..at + keyword.len()], keyword)
                || code[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            let mut depth = 0i32;
            for c in code[at + keyword.len()..].chars() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    ';' | '}' | '\n' if depth <= 0 => break,
                    '>' if depth <= 0 => return true,
                    _ => {}
                }
            }
        }
    }
    false
}

// --- sed ------------------------------------------------------------------------------------------

/// A sed script (GNU syntax): files read by `r`/`R`, written by `w`/`W` and the `w` flag of `s`;
/// `e` (the command or the flag of `s`) runs a command. A script that does not parse is code
/// cordon does not follow.
pub(super) fn sed(script: &str) -> Effects {
    match SedReader::new(script).read() {
        Ok(effects) => effects,
        Err(why) => Effects::code(format!("the sed script {why}")),
    }
}

struct SedReader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    effects: Effects,
}

impl<'a> SedReader<'a> {
    fn new(script: &'a str) -> SedReader<'a> {
        SedReader {
            chars: script.chars().peekable(),
            effects: Effects::default(),
        }
    }

    fn read(mut self) -> Result<Effects, String> {
        loop {
            self.skip(|c| c.is_whitespace() || c == ';');
            if self.chars.peek().is_none() {
                return Ok(self.effects);
            }
            self.address()?;
            self.skip(|c| c == ' ' || c == '\t');
            if self.chars.peek() == Some(&',') {
                self.chars.next();
                self.skip(|c| c == ' ' || c == '\t');
                self.address()?;
            }
            self.skip(|c| c == ' ' || c == '\t' || c == '!');
            self.command()?;
        }
    }

    fn skip(&mut self, what: impl Fn(char) -> bool) {
        while self.chars.peek().is_some_and(|c| what(*c)) {
            self.chars.next();
        }
    }

    fn address(&mut self) -> Result<(), String> {
        match self.chars.peek().copied() {
            Some(c) if c.is_ascii_digit() || c == '$' || c == '+' || c == '~' => {
                self.chars.next();
                self.skip(|c| c.is_ascii_digit() || c == '~');
            }
            Some('/') => {
                self.chars.next();
                self.delimited('/')?;
                self.skip(|c| c == 'I' || c == 'M');
            }
            Some('\\') => {
                self.chars.next();
                let delimiter = self.chars.next().ok_or("ends inside an address")?;
                self.delimited(delimiter)?;
                self.skip(|c| c == 'I' || c == 'M');
            }
            _ => {}
        }
        Ok(())
    }

    /// Text up to an unescaped `delimiter`, which is consumed.
    fn delimited(&mut self, delimiter: char) -> Result<String, String> {
        let mut text = String::new();
        while let Some(c) = self.chars.next() {
            if c == '\\' {
                if let Some(escaped) = self.chars.next() {
                    text.push('\\');
                    text.push(escaped);
                }
                continue;
            }
            if c == delimiter {
                return Ok(text);
            }
            if c == '\n' && delimiter != '\n' {
                break;
            }
            text.push(c);
        }
        Err(format!("has an unterminated `{delimiter}`"))
    }

    /// The rest of the line (for file names, text and `e` commands).
    fn line(&mut self) -> String {
        let mut text = String::new();
        while let Some(c) = self.chars.next() {
            match c {
                '\n' => break,
                '\\' => {
                    if let Some(next) = self.chars.next() {
                        text.push(next);
                    }
                }
                _ => text.push(c),
            }
        }
        text
    }

    /// A label or number argument: up to `;` or the end of the line.
    fn word(&mut self) {
        self.skip(|c| c == ' ' || c == '\t');
        self.skip(|c| c != ';' && c != '\n' && c != '}');
    }

    fn file(&mut self) -> String {
        self.skip(|c| c == ' ' || c == '\t');
        self.line().trim_end().to_string()
    }

    fn command(&mut self) -> Result<(), String> {
        let Some(command) = self.chars.next() else {
            return Err("ends after an address".to_string());
        };
        match command {
            '{' | '}' | '=' | 'd' | 'D' | 'g' | 'G' | 'h' | 'H' | 'n' | 'N' | 'p' | 'P' | 'x'
            | 'z' | 'F' => {}
            'q' | 'Q' | 'l' | 'L' | 'b' | 't' | 'T' | ':' | 'v' => self.word(),
            '#' => {
                self.line();
            }
            'a' | 'i' | 'c' => {
                self.line();
            }
            'r' | 'R' => {
                let file = self.file();
                if !SED_STREAMS.contains(&file.as_str()) {
                    self.effects.reads.push(file);
                }
            }
            'w' | 'W' => {
                let file = self.file();
                if !SED_STREAMS.contains(&file.as_str()) {
                    self.effects.writes.push(file);
                }
            }
            'e' => {
                self.line();
                self.effects.runs_code = Some("the sed script runs a command (`e`)".to_string());
            }
            's' => self.substitute()?,
            'y' => {
                let delimiter = self.chars.next().ok_or("ends inside `y`")?;
                self.delimited(delimiter)?;
                self.delimited(delimiter)?;
            }
            other => return Err(format!("uses `{other}`, which cordon does not model")),
        }
        Ok(())
    }

    fn substitute(&mut self) -> Result<(), String> {
        let delimiter = self.chars.next().ok_or("ends inside `s`")?;
        if delimiter == '\n' || delimiter == '\\' {
            return Err("has an `s` command with a newline or backslash delimiter".to_string());
        }
        self.delimited(delimiter)?;
        self.delimited(delimiter)?;
        while let Some(flag) = self.chars.peek().copied() {
            match flag {
                'g' | 'p' | 'i' | 'I' | 'm' | 'M' | '0'..='9' => {
                    self.chars.next();
                }
                'e' => {
                    self.chars.next();
                    self.effects.runs_code = Some(
                        "the sed script runs the pattern space as a command (`s///e`)".to_string(),
                    );
                }
                'w' => {
                    self.chars.next();
                    let file = self.file();
                    if !SED_STREAMS.contains(&file.as_str()) {
                        self.effects.writes.push(file);
                    }
                    return Ok(());
                }
                _ => break,
            }
        }
        Ok(())
    }
}

// --- SQL (sqlite3) --------------------------------------------------------------------------------

/// sqlite3 dot-commands that only print or set how output looks.
const SAFE_DOT_COMMANDS: &[&str] = &[
    "tables",
    "table",
    "schema",
    "fullschema",
    "indexes",
    "indices",
    "headers",
    "header",
    "mode",
    "databases",
    "show",
    "help",
    "quit",
    "exit",
    "width",
    "nullvalue",
    "separator",
    "timer",
    "changes",
    "echo",
    "bail",
    "explain",
    "eqp",
    "stats",
    "dbinfo",
    "print",
    "dump",
    "lint",
    "version",
    "prompt",
    "expert",
    "parameter",
];

/// SQL words that reach files or load code beyond the database named on the command line.
const UNSAFE_SQL: &[&str] = &[
    "attach",
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
    "vacuum into",
];

/// SQL and sqlite3 dot-commands: another database (`ATTACH`), files (`readfile`, `.output`,
/// `.import`), extensions and shell commands (`.shell`, `.system`) are code cordon does not follow.
pub(super) fn sql(text: &str) -> Effects {
    for line in text.lines() {
        let line = line.trim_start();
        if let Some(dot) = line.strip_prefix('.') {
            let name = dot.split_whitespace().next().unwrap_or("");
            if !SAFE_DOT_COMMANDS.contains(&name) {
                return Effects::code(format!("the sqlite3 input runs `.{name}`"));
            }
        }
    }
    let lower = text.to_ascii_lowercase();
    let squeezed = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    for word in UNSAFE_SQL {
        if squeezed.contains(word) {
            return Effects::code(format!("the SQL uses `{word}`"));
        }
    }
    Effects::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awk_io_and_commands_are_code() {
        for program in [
            "BEGIN{while((getline l < \"/home/u/.aws/credentials\")>0) print l}",
            "{system(\"id\")}",
            "{print | \"sh\"}",
            "{print $1 > \"/home/u/.bashrc\"}",
            "{printf \"%s\", $0 >> out}",
            "BEGIN { \"date\" | getline d }",
            "@load \"filefuncs\"",
        ] {
            assert!(awk(program).runs_code.is_some(), "{program}");
        }
        for program in [
            "{print $1}",
            "$3 > 100 {print}",
            "{ if ($1 > 2) print ($1 > 3) }",
            "/system/ {n++} END {print n}",
            "{print \"a|b > c\"}",
            "NR==1 || /x/ {print}",
            "{x = $1 / 2; print x}",
        ] {
            assert_eq!(awk(program), Effects::default(), "{program}");
        }
        assert!(awk("BEGIN{print ENVIRON[\"TOKEN\"]}").reads_environment);
        let e = awk("BEGIN{while((getline l < \"/home/u/.aws/credentials\")>0) print l}");
        assert_eq!(e.reads, ["/home/u/.aws/credentials"]);
    }

    #[test]
    fn sed_files_and_commands_are_found() {
        let e = sed("1r /home/u/.ssh/id_rsa");
        assert_eq!(e.reads, ["/home/u/.ssh/id_rsa"]);
        assert!(sed("1e cat /etc/shadow").runs_code.is_some());
        assert!(sed("s/x/id/e").runs_code.is_some());
        assert_eq!(sed("s/a/b/w /home/u/.bashrc").writes, ["/home/u/.bashrc"]);
        assert_eq!(sed("/x/w out.txt\np").writes, ["out.txt"]);
        assert_eq!(sed("$!N;W log").writes, ["log"]);
        assert!(
            sed("1k").runs_code.is_some(),
            "an unknown command is not guessed"
        );
        for script in [
            "s/foo/bar/g",
            "1,40p",
            "/^#/d;s|a|b|2",
            "s/\\//x/g",
            "$a\\\ntext",
            "1i header",
            "y/abc/xyz/",
            "/start/,/end/{s/x/y/;p}",
            "s/x/y/w /dev/stdout",
            ":a;N;$!ba;s/\\n/ /g",
        ] {
            assert_eq!(sed(script), Effects::default(), "{script}");
        }
    }

    #[test]
    fn sql_that_reaches_files_or_code_is_found() {
        for text in [
            "ATTACH '/home/u/.x.db' AS x",
            "select load_extension('/tmp/x.so')",
            "select readfile('/etc/shadow')",
            ".shell id",
            ".output /home/u/.bashrc",
            "VACUUM   INTO '/tmp/copy.db'",
        ] {
            assert!(sql(text).runs_code.is_some(), "{text}");
        }
        for text in [
            "select * from users limit 5",
            ".tables",
            ".schema users",
            ".mode csv\nselect 1;",
        ] {
            assert_eq!(sql(text), Effects::default(), "{text}");
        }
    }
}
