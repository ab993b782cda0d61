//! Which modules of a fleet a fault is for: the `modems` key of a fleet's `[[fault]]` tables and
//! of `POST /fleet/faults`, and the fleet's scenario file that carries it.

use serde::Deserialize;
use ubx_modem::field::spec::{Fault, FaultSpec, fault_tables};

/// Which modules of a fleet a fault is for: the `modems` key of a fleet's `[[fault]]` table and
/// of `POST /fleet/faults`.
#[derive(Debug, Clone, PartialEq)]
pub enum ModuleShare {
    /// Every module.
    All,
    /// This percentage of the fleet, chosen by a hash of the index over the whole fleet: the same
    /// modules on every run, and in every shard the ones it would have in one process.
    Percent(f64),
    /// These module indices.
    List(Vec<usize>),
}

/// How `modems` is written, before it is checked.
#[derive(Deserialize)]
#[serde(untagged)]
enum ShareText {
    Text(String),
    List(Vec<usize>),
}

impl<'de> Deserialize<'de> for ModuleShare {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const EXPECTED: &str =
            "modems: \"all\", a percentage (\"10%\") or a list of module indices";
        let text = ShareText::deserialize(d).map_err(|_| serde::de::Error::custom(EXPECTED))?;
        match text {
            ShareText::List(list) => Ok(ModuleShare::List(list)),
            ShareText::Text(s) if s == "all" => Ok(ModuleShare::All),
            ShareText::Text(s) => match s.strip_suffix('%').map(|p| p.trim().parse::<f64>()) {
                Some(Ok(pct)) if (0.0..=100.0).contains(&pct) => Ok(ModuleShare::Percent(pct)),
                Some(Ok(_)) => Err(serde::de::Error::custom(
                    "modems: a percentage from 0 to 100",
                )),
                _ => Err(serde::de::Error::custom(format!("{EXPECTED}, not {s:?}"))),
            },
        }
    }
}

impl ModuleShare {
    /// The indices of a fleet of `count` modules this share picks, in order; an index outside
    /// the fleet is an error.
    pub fn pick(&self, count: usize) -> Result<Vec<usize>, String> {
        Picker::new(count).pick(self)
    }
}

/// Picks the modules of many shares of one fleet: the ranking a percentage uses is made once,
/// so a file of many `modems = "N%"` faults loads in linear time.
pub struct Picker {
    count: usize,
    /// Every index of the fleet, ranked by a hash (made at the first percentage).
    ranked: Option<Vec<usize>>,
}

impl Picker {
    pub fn new(count: usize) -> Picker {
        Picker {
            count,
            ranked: None,
        }
    }

    /// The indices `share` picks, in order; an index outside the fleet is an error.
    pub fn pick(&mut self, share: &ModuleShare) -> Result<Vec<usize>, String> {
        let count = self.count;
        match share {
            ModuleShare::All => Ok((0..count).collect()),
            ModuleShare::Percent(pct) => {
                // Rank every index of the whole fleet by a hash, so that a shard picks exactly
                // the modules of its own that the single process would.
                let ranked = self.ranked.get_or_insert_with(|| {
                    let mut ids: Vec<usize> = (0..count).collect();
                    ids.sort_by_key(|i| {
                        (*i as u64)
                            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                            .rotate_left(17)
                    });
                    ids
                });
                let n = ((count as f64) * pct / 100.0).round() as usize;
                let mut ids = ranked[..n.min(count)].to_vec();
                ids.sort_unstable();
                Ok(ids)
            }
            ModuleShare::List(list) => {
                if let Some(bad) = list.iter().find(|i| **i >= count) {
                    return Err(format!(
                        "modems: {bad} is not a module of this fleet of {count}"
                    ));
                }
                let mut ids = list.clone();
                ids.sort_unstable();
                ids.dedup();
                Ok(ids)
            }
        }
    }
}

/// Reads a fleet's scenario file: the faults of [`ubx_modem::field::spec::parse_scenario`], each with the modules it is
/// for (`modems`, every module when absent). An error names the line of its fault.
pub fn parse_fleet_scenario(text: &str, max_cid: u8) -> Result<Vec<(ModuleShare, Fault)>, String> {
    fault_tables::<toml::Table>(text)?
        .into_iter()
        .map(|(line, mut table)| {
            let share = match table.remove("modems") {
                None => ModuleShare::All,
                Some(v) => v
                    .try_into()
                    .map_err(|e| format!("line {line}: fault: {e}"))?,
            };
            let spec: FaultSpec = toml::Value::Table(table)
                .try_into()
                .map_err(|e| format!("line {line}: fault: {e}"))?;
            let fault = spec
                .validate(max_cid)
                .map_err(|e| format!("line {line}: fault: {e}"))?;
            Ok((share, fault))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ubx_modem::field::spec::parse_scenario;

    #[test]
    fn a_fleet_scenario_gives_each_fault_its_modules() {
        let text = "[[fault]]\ntarget = \"pdp\"\naction = \"deactivate\"\ncid = 1\nmodems = \"5%\"\n\n\
                    [[fault]]\ntarget = \"network\"\naction = \"deregister\"\nat_ms = 10\n";
        let faults = parse_fleet_scenario(text, 8).unwrap();
        assert_eq!(faults[0].0, ModuleShare::Percent(5.0));
        assert_eq!(faults[1].0, ModuleShare::All);
        let picked = faults[0].0.pick(1000).unwrap();
        assert_eq!(picked.len(), 50);
        // One picker for many shares picks as each share alone does.
        let mut picker = Picker::new(1000);
        for pct in [5.0, 30.0, 5.0, 100.0, 0.0] {
            let share = ModuleShare::Percent(pct);
            assert_eq!(picker.pick(&share).unwrap(), share.pick(1000).unwrap());
        }
        // A shard's share is the single process's, restricted to the shard.
        let whole = ModuleShare::Percent(30.0).pick(10).unwrap();
        assert_eq!(whole.len(), 3);
        for (text, needle) in [
            (
                "[[fault]]\ntarget = \"pdp\"\naction = \"deactivate\"\nmodems = \"half\"\n",
                "line 1: fault: modems",
            ),
            (
                "[[fault]]\ntarget = \"pdp\"\naction = \"deactivate\"\nmodems = \"120%\"\n",
                "0 to 100",
            ),
            (
                "\n[[fault]]\ntarget = \"pdp\"\nactoin = \"deactivate\"\n",
                "line 2: fault: unknown field `actoin`",
            ),
        ] {
            let e = parse_fleet_scenario(text, 8).unwrap_err();
            assert!(e.contains(needle), "{e}");
        }
        assert!(
            ModuleShare::List(vec![3, 10])
                .pick(10)
                .unwrap_err()
                .contains("10 is not")
        );
        // A single module's scenario has no `modems`.
        assert!(
            parse_scenario(
                "[[fault]]\ntarget = \"pdp\"\naction = \"deactivate\"\nmodems = \"all\"\n",
                8
            )
            .is_err()
        );
    }
}
