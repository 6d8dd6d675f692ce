//! The stored-document diff: with a shared store, what each build wrote
//! for a step is read back and compared by *shape* — field names and BSON
//! types, not values (`userId: ObjectId ≠ string`, `expiresAt: absent ≠
//! null`). Two builds can answer alike while writing documents the other
//! cannot find; this is where that shows.

use super::compare::Difference;
use crate::store::TokenStore;
use mongodb::bson::{oid::ObjectId, Bson, Document};
use serde::Serialize;
use std::collections::BTreeMap;

/// Field → its BSON type's name, for one stored document.
pub type DocShape = BTreeMap<String, String>;

/// What a step's lanes wrote, as shapes (`None`: nothing found to read).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredShapes {
    pub reference: Option<DocShape>,
    pub candidate: Option<DocShape>,
}

/// The prefix of a stored-document difference's path.
pub const PREFIX: &str = "store.";

/// The name a BSON value's type goes by (MongoDB's, for the ones a token holds).
pub fn type_name(value: &Bson) -> &'static str {
    match value {
        Bson::String(_) => "string",
        Bson::ObjectId(_) => "ObjectId",
        Bson::DateTime(_) => "date",
        Bson::Null => "null",
        Bson::Boolean(_) => "bool",
        Bson::Array(_) => "array",
        Bson::Document(_) => "object",
        Bson::Int32(_) => "int",
        Bson::Int64(_) => "long",
        Bson::Double(_) => "double",
        _ => "other",
    }
}

pub fn shape_of(doc: &Document) -> DocShape {
    doc.iter().map(|(field, value)| (field.clone(), type_name(value).to_string())).collect()
}

/// The shape of the document with this id (24 hex), as stored.
pub async fn read(store: &dyn TokenStore, id: &str) -> Result<Option<DocShape>, String> {
    let Ok(id) = ObjectId::parse_str(id) else { return Ok(None) };
    let docs = store.documents(&[id]).await.map_err(|e| e.to_string())?;
    Ok(docs.first().map(shape_of))
}

/// One difference per field whose type (or presence) differs: `store.<field>`.
pub fn differences(reference: &DocShape, candidate: &DocShape) -> Vec<Difference> {
    let absent = || "absent".to_string();
    let mut fields: Vec<&String> = reference.keys().chain(candidate.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter_map(|field| {
            let a = reference.get(field).cloned().unwrap_or_else(absent);
            let b = candidate.get(field).cloned().unwrap_or_else(absent);
            (a != b).then(|| Difference {
                path: format!("{PREFIX}{field}"),
                reference: serde_json::Value::String(a),
                candidate: serde_json::Value::String(b),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn shapes_compare_by_type_and_presence_never_by_value() {
        let owner = ObjectId::new();
        let go =
            doc! { "_id": ObjectId::new(), "userId": owner.to_hex(), "active": true, "scopes": Bson::Null };
        let node = doc! {
            "_id": ObjectId::new(), "userId": owner, "active": false, "scopes": [], "expiresAt": Bson::Null,
        };
        let found = differences(&shape_of(&go), &shape_of(&node));
        let shown: Vec<String> = found
            .iter()
            .map(|d| {
                format!("{}: {} ≠ {}", d.path, d.reference.as_str().unwrap(), d.candidate.as_str().unwrap())
            })
            .collect();
        assert_eq!(
            shown,
            [
                "store.expiresAt: absent ≠ null",
                "store.scopes: null ≠ array",
                "store.userId: string ≠ ObjectId"
            ]
        );
        assert!(differences(&shape_of(&go), &shape_of(&go)).is_empty());
    }
}
