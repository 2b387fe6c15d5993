//! The `residency` section (PSF DG-5): the regions AI traffic may go to, and the region of
//! each upstream cluster. A request whose route's cluster is elsewhere, or untagged, is
//! refused before it leaves.

use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Residency {
    pub allowed_regions: Vec<String>,
    /// Envoy cluster name → region.
    pub clusters: BTreeMap<String, String>,
}

pub(super) fn read_residency(fields: &mut Fields<'_>, errors: &mut Errors) -> Option<Residency> {
    let value = fields.value("residency")?;
    let mut section = Fields::open(value, &fields.path_of("residency"), errors)?;
    let allowed_regions = section
        .strings("allowed_regions", errors)
        .unwrap_or_default();
    if allowed_regions.is_empty() {
        errors.push(
            &section.path_of("allowed_regions"),
            PolicyErrorKind::Invalid("list at least one region".into()),
        );
    }
    let mut clusters = BTreeMap::new();
    for (path, cluster, region) in section.entries("clusters", errors).unwrap_or_default() {
        match region.as_str() {
            Some(region) => {
                clusters.insert(cluster.to_string(), region.to_string());
            }
            None => errors.push(
                &path,
                PolicyErrorKind::Invalid("expected a region name".into()),
            ),
        }
    }
    section.finish(errors);
    Some(Residency {
        allowed_regions,
        clusters,
    })
}

impl Residency {
    /// Why a request to `cluster` may not go, or `None` when it may.
    pub fn refusal(&self, cluster: Option<&str>) -> Option<String> {
        let Some(cluster) = cluster else {
            return Some("the upstream cluster is unknown, so its region cannot be checked".into());
        };
        match self.clusters.get(cluster) {
            None => Some(format!("cluster {cluster:?} has no region in the policy")),
            Some(region) if !self.allowed_regions.contains(region) => Some(format!(
                "cluster {cluster:?} is in region {region:?}, outside the allowed {}",
                self.allowed_regions.join(", ")
            )),
            Some(_) => None,
        }
    }
}
