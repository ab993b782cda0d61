//! Model profiles: which commands and op codes a module model has, and what it prints about itself.
//!
//! A driver probes a module with test commands (`AT+UFTPC=?`) and identification commands
//! (`AT+CGMM`); the answers differ between u-blox models. A [`Model`] gathers everything that
//! differs, so the command families stay model-neutral and a second model is one more constant.

/// Everything that differs between emulated models.
#[derive(Debug)]
pub struct Model {
    /// The `--model` name.
    pub id: &'static str,
    /// `+CGMI` / `+GMI`.
    pub manufacturer: &'static str,
    /// `+CGMM` / `+GMM` and `ATI`.
    pub model: &'static str,
    /// `+CGMR` / `+GMR`.
    pub revision: &'static str,
    /// `ATI9`: modem and application versions.
    pub ati9: &'static str,
    /// PDP context ids: `1..=max_cid`.
    pub max_cid: u8,
    /// `+CFUN=?`.
    pub cfun_test: &'static str,
    /// Extended commands this model answers; anything else is an unknown command (`ERROR`).
    pub commands: &'static [&'static str],
    /// `+UFTP` op codes this model has.
    pub uftp_ops: &'static [i64],
    /// `AT+UFTP=?`.
    pub uftp_test: &'static str,
    /// `+UFTPC` op codes this model has.
    pub uftpc_ops: &'static [i64],
    /// `AT+UFTPC=?`.
    pub uftpc_test: &'static str,
    /// `AT+UDNSRN=?`.
    pub udnsrn_test: &'static str,
}

impl Model {
    /// Whether this model has the extended command `name` (upper case, with `+`).
    pub fn has(&self, name: &str) -> bool {
        self.commands.contains(&name)
    }

    /// Looks a model up by its `--model` name.
    pub fn by_id(id: &str) -> Option<&'static Model> {
        MODELS
            .iter()
            .copied()
            .find(|m| m.id.eq_ignore_ascii_case(id))
    }
}

/// u-blox LEXI-R10 (LEXI-R10401D-01B and siblings, SARA-R10 shares its FTP chapter).
pub static LEXI_R10: Model = Model {
    id: "lexi-r10",
    manufacturer: "u-blox",
    model: "LEXI-R10401D",
    revision: "02.06",
    ati9: "02.06,A00.01",
    // `AT+UDNSRN=?` on LEXI-R10 advertises cids (1-15) (related-commands.md §6).
    max_cid: 15,
    cfun_test: "+CFUN: (0,1,4,10,11,15,16,19),(0-1)",
    commands: &[
        // general (general.rs)
        "+CGMI",
        "+CGMM",
        "+CGMR",
        "+CGSN",
        "+GMI",
        "+GMM",
        "+GMR",
        "+GSN",
        "+CIMI",
        "+CCID",
        "+CFUN",
        "+CPIN",
        "+CREG",
        "+CEREG",
        "+CGREG",
        "+COPS",
        "+CSQ",
        "+IPR",
        "+CMGF",
        "+CTZU",
        "+UDCONF",
        "+UPSV",
        "+UGPIOC",
        "+UDTMFD",
        "+UCALLSTAT",
        "+USOCL",
        "+CSCS",
        "+CGEREP",
        "+CPWROFF",
        "+CCLK",
        "+CSGT",
        "+UGPIOR",
        // SIM (sim.rs)
        "+CRSM",
        // network service (network.rs)
        "+UCGED",
        "+CSCON",
        "+CEER",
        "+UMNOPROF",
        "+UBANDMASK",
        // power saving (power.rs)
        "+CPSMS",
        "+UPSMR",
        // security (security/)
        "+USECMNG",
        "+USECPRF",
        // packet switched data (pdp.rs)
        "+CGDCONT",
        "+CGACT",
        "+CGPADDR",
        "+CGATT",
        "+CGAUTH",
        // DNS (dns.rs)
        "+UDNSRN",
        // file system (fs.rs)
        "+UDWNFILE",
        "+UDWNBLOCK",
        "+URDFILE",
        "+URDBLOCK",
        "+ULSTFILE",
        "+UDELFILE",
        "+FOPEN",
        "+FSEEK",
        "+FREAD",
        "+FWRITEHEX",
        "+FCLOSE",
        "+FDELETE",
        // FTP (ftp.rs)
        "+UFTP",
        "+UFTPC",
        "+UFTPER",
    ],
    uftp_ops: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 20, 30],
    uftp_test: "+UFTP: (0-12,20)",
    // 6 and 7 (direct link) exist though the chapter's test example leaves them out
    // (docs/FIDELITY.md).
    uftpc_ops: &[0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 14, 100],
    uftpc_test: "+UFTPC: (0-5,8,10,11,13,14,100)",
    udnsrn_test: "+UDNSRN: (0),\"remote_host\",(1),(1-15),(0,1)",
};

/// Every model ubxftp can emulate.
pub static MODELS: &[&Model] = &[&LEXI_R10];
