//! A fast path for OpenAI chat bodies: typed, borrowing deserialisation with no
//! `serde_json::Value` tree, for the requests that are well formed (nearly all of them).
//! Anything it does not accept goes to the `Value` reader, which names the bad field; the two
//! produce the same [`LlmRequest`] for every body the fast path accepts (tested).

use super::openai_chat::ROLES;
use super::{LlmRequest, Origin, Param, Role};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

#[derive(Deserialize)]
struct Chat<'a> {
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    stream: Option<bool>,
    n: Option<u64>,
    max_completion_tokens: Option<u64>,
    max_tokens: Option<u64>,
    #[serde(borrow)]
    messages: Vec<Message<'a>>,
    #[serde(borrow)]
    tools: Option<Vec<Tool<'a>>>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(borrow)]
    content: Option<Content<'a>>,
    #[serde(borrow)]
    tool_calls: Option<Vec<ToolCall<'a>>>,
    #[serde(borrow)]
    function_call: Option<Arguments<'a>>,
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow)]
    function: Option<Arguments<'a>>,
}

#[derive(Deserialize)]
struct Arguments<'a> {
    #[serde(borrow)]
    arguments: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Tool<'a> {
    #[serde(borrow)]
    function: Option<ToolSpec<'a>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    description: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ToolSpec<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    description: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct PartObject<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    refusal: Option<Cow<'a, str>>,
}

/// `content`: a string, or an array of parts (strings or objects).
enum Content<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
}

enum Part<'a> {
    Text(Cow<'a, str>),
    Object(PartObject<'a>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ContentVisitor;
        impl<'de> Visitor<'de> for ContentVisitor {
            type Value = Content<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of content parts")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Owned(text.to_string())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Owned(text)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut parts = Vec::new();
                while let Some(part) = seq.next_element::<Part<'de>>()? {
                    parts.push(part);
                }
                Ok(Content::Parts(parts))
            }
        }
        deserializer.deserialize_any(ContentVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Part<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PartVisitor;
        impl<'de> Visitor<'de> for PartVisitor {
            type Value = Part<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a content part")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Part::Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Part::Text(Cow::Owned(text.to_string())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Part::Text(Cow::Owned(text)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                PartObject::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(Part::Object)
            }
        }
        deserializer.deserialize_any(PartVisitor)
    }
}

/// The role named `name`, by the same table the careful reader uses.
fn role(name: &str) -> Option<Role> {
    ROLES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, role)| *role)
}

/// The request, or `None` when the body needs the careful reader.
pub(super) fn read(body: &[u8]) -> Option<LlmRequest> {
    let chat: Chat<'_> = serde_json::from_slice(body).ok()?;
    let mut request = LlmRequest {
        model: chat.model.map(|m| Param {
            value: m.into_owned(),
            pointer: "/model".into(),
        }),
        stream: chat.stream.unwrap_or(false),
        n: chat.n.map(|value| Param {
            value,
            pointer: "/n".into(),
        }),
        max_tokens: match (chat.max_completion_tokens, chat.max_tokens) {
            (Some(value), _) => Some(Param {
                value,
                pointer: "/max_completion_tokens".into(),
            }),
            (None, Some(value)) => Some(Param {
                value,
                pointer: "/max_tokens".into(),
            }),
            (None, None) => None,
        },
        message_count: chat.messages.len(),
        ..LlmRequest::default()
    };
    for (index, message) in chat.messages.iter().enumerate() {
        let role = role(&message.role)?;
        let origin = if role == Role::Tool {
            Origin::ToolResult
        } else {
            Origin::Typed
        };
        match &message.content {
            None => {}
            Some(Content::Text(text)) => request.push(
                role,
                origin,
                text,
                format!("/messages/{index}/content"),
                Some(index),
            ),
            Some(Content::Parts(parts)) => {
                for (i, part) in parts.iter().enumerate() {
                    match part {
                        Part::Text(text) => request.push(
                            role,
                            origin,
                            text,
                            format!("/messages/{index}/content/{i}"),
                            Some(index),
                        ),
                        Part::Object(object) => {
                            for (field, text) in
                                [("text", &object.text), ("refusal", &object.refusal)]
                            {
                                if let Some(text) = text {
                                    let pointer = format!("/messages/{index}/content/{i}/{field}");
                                    request.push(role, origin, text, pointer, Some(index));
                                }
                            }
                        }
                    }
                }
            }
        }
        for (i, call) in message.tool_calls.iter().flatten().enumerate() {
            if let Some(arguments) = call.function.as_ref().and_then(|f| f.arguments.as_ref()) {
                let pointer = format!("/messages/{index}/tool_calls/{i}/function/arguments");
                request.push(
                    Role::Assistant,
                    Origin::ToolCall,
                    arguments,
                    pointer,
                    Some(index),
                );
            }
        }
        if let Some(arguments) = message
            .function_call
            .as_ref()
            .and_then(|c| c.arguments.as_ref())
        {
            request.push(
                Role::Assistant,
                Origin::ToolCall,
                arguments,
                format!("/messages/{index}/function_call/arguments"),
                Some(index),
            );
        }
    }
    for (i, tool) in chat.tools.iter().flatten().enumerate() {
        let (base, name, description) = match &tool.function {
            Some(spec) => (
                format!("/tools/{i}/function"),
                &spec.name,
                &spec.description,
            ),
            None => (format!("/tools/{i}"), &tool.name, &tool.description),
        };
        if let Some(name) = name {
            request.tool_names.push(Param {
                value: name.to_string(),
                pointer: format!("{base}/name"),
            });
        }
        if let Some(description) = description {
            request.push(
                Role::Developer,
                Origin::ToolDefinition,
                description,
                format!("{base}/description"),
                None,
            );
        }
    }
    Some(request)
}
