//! How a command is confined.

use serde::{Deserialize, Serialize};

/// `local` supervises the command (timeout, tree kill, output capture, process record);
/// `hardened` also confines it with Landlock, seccomp and namespaces, or refuses to run it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Local,
    Hardened,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Hardened => "hardened",
        }
    }

    /// The sandbox profile id written into receipts and decision records.
    pub fn profile(self) -> &'static str {
        match self {
            Mode::Local => "cordon-local-v1",
            Mode::Hardened => "cordon-hardened-v1",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Mode, String> {
        match text {
            "local" => Ok(Mode::Local),
            "hardened" => Ok(Mode::Hardened),
            other => Err(format!("unknown mode {other:?}: use local or hardened")),
        }
    }
}

/// How the mode of a run was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeChoice {
    /// Named by the caller: `--mode`, or the setting a hook or the MCP server was installed with.
    #[default]
    Named,
    /// Not named: hardened, where the kernel can enforce it (`cordon doctor`).
    Default,
}

/// `x-cordon.mode` in a decision record and a receipt: the mode a run was governed in and how it
/// was chosen, so a local run says it was asked for by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ModeNote {
    pub mode: Mode,
    pub chosen: ModeChoice,
}
