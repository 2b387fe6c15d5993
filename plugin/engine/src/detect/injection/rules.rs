//! The injection rule set. Ids are stable: a rule that changes meaning gets a new id, and
//! [`RULESET_VERSION`] changes with every edit so decision records say which set decided.
//!
//! Patterns run on the detection form of the text: lower case, ASCII look-alikes folded,
//! invisible characters removed. A space in a pattern stands for any run of characters that
//! are not letters or digits (spaces, punctuation, line breaks), so `ignore previous` also
//! matches `Ignore -- previous`. Patterns must not put spaces inside character classes.
//!
//! Scores follow the Core Rule Set's severities: 5 critical (enough alone at the default
//! threshold), 4 error, 3 warning, 2 notice. Paranoia 1 rules are precise; higher levels add
//! broader rules that catch more and misfire more.

/// The rule set's version, reported in every decision record that ran detection.
pub const RULESET_VERSION: &str = "psf-pi-2026.12.5";

/// What kind of attack a rule looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// "Ignore all previous instructions."
    InstructionOverride,
    /// DAN, developer mode, "you are an unfiltered AI".
    Jailbreak,
    /// "Print your system prompt."
    PromptExtraction,
    /// Chat-template tokens and fake role headers in user text.
    RoleMarkerSpoofing,
    /// Instructions hidden in encodings.
    EncodingEvasion,
    /// Instructions addressed to the model inside tool results or retrieved documents.
    IndirectInjection,
    /// "Never refuse", "no warnings or disclaimers".
    RefusalSuppression,
    /// Sending the user's data somewhere.
    Exfiltration,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::InstructionOverride => "instruction_override",
            Category::Jailbreak => "jailbreak",
            Category::PromptExtraction => "prompt_extraction",
            Category::RoleMarkerSpoofing => "role_marker_spoofing",
            Category::EncodingEvasion => "encoding_evasion",
            Category::IndirectInjection => "indirect_injection",
            Category::RefusalSuppression => "refusal_suppression",
            Category::Exfiltration => "exfiltration",
        }
    }
}

/// One rule. `pattern` is `None` for rules the detector raises itself (decoded payloads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleDef {
    pub id: &'static str,
    pub category: Category,
    pub paranoia: u8,
    pub score: u32,
    pub pattern: Option<&'static str>,
    pub summary: &'static str,
}

use Category::*;

const fn rule(
    id: &'static str,
    category: Category,
    paranoia: u8,
    score: u32,
    pattern: &'static str,
    summary: &'static str,
) -> RuleDef {
    RuleDef {
        id,
        category,
        paranoia,
        score,
        pattern: Some(pattern),
        summary,
    }
}

/// The id of the rule raised when a decoded payload matches other rules.
pub const ENCODED_PAYLOAD: &str = "PI-5001";
/// The id of the rule raised when Unicode tags carry text.
pub const TAG_SMUGGLING: &str = "PI-5002";

/// The rules, in id order.
pub const RULES: &[RuleDef] = &[
    // 1xxx instruction override
    rule("PI-1001", InstructionOverride, 1, 5,
        "\\b(?:ignore|ignoring|disregard|disregarding|forget|forgetting|skip|bypass|override|overlook|neglect|omit|pay no attention to|discard|abandon|ditch|erase|delete|cancel|nullify|void|set aside|throw out|put aside) (?:[a-z']+ ){0,4}?(?:previous|prior|above|earlier|preceding|initial|original|old|former|foregoing|all|any|every|your|these|those|existing|default|system|safety|other|openai's|openai|chatgpt's|anthropic's) (?:[a-z']+ ){0,2}?(?:instructions?|prompts?|directives?|guidelines?|rules?|commands?|orders|context|programming|guidance|constraints?|restrictions?|polic(?:y|ies)|training|filters?|conditioning|directions?|prompting)\\b",
        "tells the model to drop its earlier instructions"),
    rule("PI-1002", InstructionOverride, 1, 5,
        "\\b(?:new|updated|revised|real|true|actual|secret|hidden|override|overriding|additional) (?:system )?(?:instructions?|directives?|orders|task|rules)(?: for you)? ?(?:[:=#-]|are|is as follows|as follows|to (?:the )?(?:chat )?(?:assistant|ai|model|bot))",
        "announces replacement instructions"),
    rule("PI-1003", InstructionOverride, 1, 5,
        "\\b(?:do not|don't|dont|never|no longer|stop|cease to|refuse to) (?:ever )?(?:follow|following|obey|obeying|listen to|adhere to|comply with|abide by|respect) (?:any |all |the |your |its |these |those |previous |prior |preceding |earlier |above |foregoing |original |initial |system |safety |default |openai's |openai |anthropic's )*(?:instructions?|rules|guidelines|programming|policies|directives?|commands?|orders|prompt|system prompt|restrictions|guardrails)\\b",
        "tells the model to stop following its rules"),
    rule("PI-1004", InstructionOverride, 1, 5,
        "\\b(?:previous|prior|above|earlier|initial|original|old|all|your|system|these|those) ?(?:instructions|rules|guidelines|prompt|directives) (?:[a-z]+ ){0,3}?(?:are|is|were|was|have been|has been) (?:now )?(?:void|null|invalid|obsolete|cancell?ed|revoked|lifted|suspended|disabled|deactivated|overridden|replaced|false|fake|wrong|outdated|out of date|superseded|no longer (?:valid|apply|in effect|active))\\b",
        "declares the rules void"),
    rule("PI-1005", InstructionOverride, 2, 3,
        "\\b(?:admin(?:istrator)?|root|sudo|god|maintenance|debug|override|unlocked|superuser) (?:mode|access|override|privileges?|command|protocol) (?:enabled|activated|granted|on|unlocked)\\b",
        "claims elevated privileges"),
    rule("PI-1006", InstructionOverride, 1, 4,
        "\\b(?:ignore|disregard|forget) (?:everything|anything|all|what) (?:[a-z']+ ){0,7}?(?:above|before|said|told|previously|earlier|so far)\\b",
        "tells the model to forget everything said"),
    rule("PI-1007", InstructionOverride, 1, 3,
        "\\bfrom (?:now|this point|here) on(?:wards?)?,? (?:you|your|ignore|forget|respond|answer|act|only|always)\\b",
        "redefines behaviour from now on"),
    rule("PI-1008", InstructionOverride, 1, 4,
        "\\b(?:ignore|disregard|forget) (?:the |all |any |your |of |everything |what was (?:said |written )?)*(?:above|previous|preceding|prior)\\b",
        "ignore the above, with no object"),
    rule("PI-1009", InstructionOverride, 1, 3,
        "\\b(?:stop|halt|pause|cease|abort) (?:everything|all (?:previous |prior |current )?(?:tasks|instructions|activities|operations)|what you are doing)\\b",
        "stops the task in progress"),
    rule("PI-1010", InstructionOverride, 1, 2,
        "\\b(?:just|only|simply) (?:print|say|output|write|respond with|reply with)\\b ?[\"':]",
        "demands an exact output"),
    rule("PI-1011", InstructionOverride, 1, 3,
        "\\b(?:reprogram|reprogramming|reprogrammed|re-program|system upgrade|new programming)\\b|\\bimportant update\\b",
        "claims to reprogram the model"),
    rule("PI-1012", InstructionOverride, 1, 3,
        "\\b(?:safe|safety|restricted|filter|filtered|censor|censored|content filter|ethics|moderation) mode (?:is )?(?:off|disabled|deactivated)\\b|\\b(?:disable|turn off|deactivate|switch off) (?:the |your )?(?:safety|filters?|content filters?|moderation|ethics|guardrails)\\b",
        "turns safety off"),
    rule("PI-1013", InstructionOverride, 1, 3,
        "\\b(?:ignore|disregard|forget|skip|bypass|neglect|overlook|omit|pay no attention to|(?:do not|don't|dont) (?:follow|obey|heed)) (?:all |any |the |of |your |my )*(?:previous|prior|above|preceding|earlier|foregoing|initial) (?:messages|text|content|inputs?|conversations?|context|data|requests|responses|communications?|directives?|commands?|queries)\\b",
        "tells the model to drop earlier messages"),
    rule("PI-1014", InstructionOverride, 1, 5,
        "\\b(?:ignorier[a-z]*|vergiss|vergessen sie|missachte[a-z]*|ignora[a-z]*|olvida[a-z]*|ignore|ignorer|ignorez|oublie[a-z]*|ignorare|dimentica[a-z]*) (?:[a-z]+ ){0,4}?(?:vorherige[a-z]*|bisherige[a-z]*|obige[a-z]*|vorige[a-z]*|alle[a-z]*|anteriores|previas|todas|precedentes|anterieures|toutes|precedenti|tutte) (?:[a-z]+ ){0,3}?(?:anweisung[a-z]*|instruktion[a-z]*|befehl[a-z]*|auftrag[a-z]*|regeln|vorgaben|instrucciones|indicaciones|reglas|instructions|consignes|regles|istruzioni|regole)\\b",
        "drop-your-instructions in German, Spanish, French or Italian"),
    rule("PI-1015", InstructionOverride, 1, 3,
        "\\b(?:vergiss|vergessen sie) alles\\b|\\b(?:olvida|olvide) todo\\b|\\boublie[sz]? tout\\b|\\bdimentica tutto\\b|\\b(?:ab jetzt|von nun an) bist du\\b|\\bdu bist (?:jetzt|nun)\\b",
        "forget-everything and new-persona phrases in other languages"),
    rule("PI-1016", InstructionOverride, 1, 5,
        "\\b(?:say|print|output|write|respond with|reply with|answer with|end with|type)\\b[^.\\n]{0,24}?\\b(?:i have been pwned|access granted)\\b",
        "asks for a canonical proof-of-hijack phrase"),
    rule("PI-1017", InstructionOverride, 1, 5,
        "\\b(?:ignora[a-z]*|ignore[sz]?|ignorer|olvida[a-z]*|olvide[a-z]*|oublie[a-z]*|dimentica[a-z]*|esquec[a-z]*|esqueca[a-z]*|desconsidera[a-z]*|desconsidere[a-z]*|descarta[a-z]*) (?:[a-z]+ ){0,3}?(?:instrucciones|instrucoes|instructions|consignes|istruzioni|indicaciones|indicacoes|indicazioni|reglas|regras|regles|regole|ordenes|ordens|directivas|diretrizes|directives|direttive) (?:[a-z]+ ){0,2}?(?:anteriores|previas|previos|precedentes|precedenti|previe|anterieures|precedents|iniciales|iniciais|originales|originais|originali|initiales|del sistema|do sistema|du systeme|di sistema|de sistema)\\b",
        "drop-your-previous-instructions with the adjective after the noun (Spanish, Portuguese, French, Italian)"),
    rule("PI-1018", InstructionOverride, 1, 5,
        "\\b(?:ignore[sz]?|ignora|ignorer|oubliez|oublie|olvida|olvide|esquece|esqueca|dimentica|ignorate) (?:tout |todo |tudo |tutto )?(?:ce qui precede|ce qui est au dessus|ce qui a ete dit|lo anterior|lo de arriba|lo que se dijo|o anterior|o que foi dito|acima|quanto sopra|cio che precede|quello che precede)\\b",
        "ignore-what-precedes in French, Spanish, Portuguese or Italian"),
    rule("PI-1019", InstructionOverride, 1, 2,
        "\\b(?:start|begin) (?:anew|afresh|over|from scratch)\\b|\\blisten to me instead\\b",
        "asks for a fresh start, which completes dropping what came before"),
    rule("PI-1020", InstructionOverride, 1, 3,
        "\\b(?:ignore|disregard|forget|skip|bypass|neglect|overlook|omit|pay no attention to|(?:do not|don't|dont) (?:follow|obey|heed)) (?:the |all |any |your )?(?:instructions?|directives?|commands?|inputs?|requests|responses|communications?) (?:and |then )?(?:start|begin) (?:anew|afresh|over|from scratch)\\b",
        "drop what came before and start over, with no word for which part"),
    rule("PI-1021", InstructionOverride, 1, 2,
        "\\b(?:return|reveal|show me|give me|print|output|disclose) (?:the |all |your |every )?(?:user |users' |admin )?(?:secret code|secret key|access code|passwords|password list)\\b",
        "asks for a secret or the users' passwords"),
    // Other scripts and languages, in their detection form: Cyrillic look-alikes are folded
    // to Latin ("игнорируйте" reads "игhopиpyйte"), Thai sara am is decomposed. No spaces
    // in non-Latin patterns: a space stands for any run of non-ASCII bytes.
    rule("PI-1022", InstructionOverride, 1, 5,
        concat!(
            "(?:忽略|无视|忽视|不要理会|不理会|忘记|忘掉).{0,18}?(?:指令|指示|说明|提示|规则|命令)",
            "|(?:指示|命令|ルール|指令|プロンプト).{0,18}?(?:無視|忘れ)",
            "|(?:지시|지침|명령|규칙|프롬프트).{0,24}?무시",
            "|(?:निर्देश|आदेश|नियम).{0,60}?(?:अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल\\s*जा)",
            "|(?:নির্দেশ|আদেশ).{0,60}?(?:উপেক্ষা|ভুলে\\s*যা)",
            "|(?:игhopиpy|зaбyдb).{0,40}?(?:пpeдыдyщ|пpeжh|иhctpykци|ykaзahи|пpabилa)",
            "|(?:تجاهل|انسَ|انسي|انس\\s).{0,40}?(?:تعليمات|الإرشادات|الأوامر|التوجيهات)",
            "|(?:เพิกเฉย|ไม่ต้องสนใจ|ละเว้น|ลืม).{0,60}?(?:คําแนะนํา|คำแนะนำ|คําสั่ง|คำสั่ง)",
            "|\\bbo qua (?:[a-z]+ ){0,3}?(?:huong dan|chi dan|chi thi|lenh|quy tac) (?:[a-z]+ ){0,2}?(?:truoc|tren|cu)\\b",
            "|\\b(?:onceki|yukaridaki|tum) (?:[a-z]+ ){0,2}?(?:talimat|komut|yonerge|kural)[a-z]* (?:[a-z]+ )?(?:yok say|gormezden gel|unut)",
            "|\\babaikan (?:[a-z]+ ){0,3}?(?:instruksi|petunjuk|perintah|arahan)\\b",
        ),
        "drop-your-instructions in Chinese, Japanese, Korean, Hindi, Bengali, Russian, Arabic, Thai, Vietnamese, Turkish or Indonesian"),
    rule("PI-1023", InstructionOverride, 1, 4,
        concat!(
            "(?:忽略|无视|忽视|不要理会|忘记)掉?(?:上述|以上|上面|前面|之前)",
            "|(?:上記|以上|これまで)(?:の内容)?を?(?:すべて|全て)?無視",
            "|(?:위의?|이전의?|앞의?)\\s*(?:내용|것|모든\\s*것)?(?:을|를)?\\s*무시",
            "|ऊपर.{0,30}?(?:अनदेखा|नज़रअंदाज़|नजरअंदाज)",
            "|(?:উপরের|আগের).{0,40}?উপেক্ষা",
            "|(?:игhopиp|зaбyдb).{0,12}?(?:bышe|bce)",
            "|تجاهل\\s*(?:كل\\s*)?ما\\s*(?:سبق|ورد|قيل|أعلاه)",
            "|\\b(?:yukaridaki|onceki)[a-z]* (?:[a-z]+ )?(?:yok say|gormezden gel|unut)",
            "|\\babaikan (?:yang |yg )?(?:di ?atas|sebelumnya)\\b",
        ),
        "ignore-the-above in the same languages"),
    // 2xxx jailbreak and persona
    rule("PI-2001", Jailbreak, 1, 5,
        "\\b(?:do anything now|dan mode|stan mode|dude mode|developer mode (?:enabled|output|response)|jailbreak(?:ed)? (?:mode|version|prompt)|jailbroken|anti-?dan|betterdan|mongo tom|evil confidant|chaos mode|aim stands for|always intelligent and machiavellian)\\b",
        "names a known jailbreak persona or mode"),
    rule("PI-2002", Jailbreak, 1, 4,
        "\\b(?:without|with no|free (?:of|from)|(?:not|never|isn't|is not|aren't|are not|no longer) (?:bound|restricted|restrained|limited|constrained|controlled|governed|confined) (?:by|to)|free (?:itself|yourself|himself|herself|themselves) from|violat(?:e|es|ing)|unbound by|unrestricted by|don't have|do not have|doesn't have|does not have|dont have|doesnt have|has no|have no|beyond|break(?:s|ing)? (?:free )?(?:of|from|through)|remove(?:d)?|bypass(?:ing|es|ed)?|abandon(?:ed|ing)?|ignor(?:e|es|ed|ing)|disregard(?:s|ed|ing)?|escape(?:d)?|lift(?:ed)?|disable(?:d)?|turn(?:ed)? off) (?:[a-z']+ ){0,6}?(?:restrictions?|limitations?|limits|filters?|filtering|censorship|guidelines|boundaries|constraints|ethics|morals|morality|principles|safeguards|guardrails|policies|safety protocols|prohibitions|values|content policy|standards|concerns|confines|shackles|chains)\\b",
        "claims the model is free of its restrictions"),
    rule("PI-2003", Jailbreak, 1, 4,
        "\\b(?:openai|anthropic|content|usage|safety|ethical|moral)(?:'s)? (?:content |usage |safety )*(?:policy|policies|guidelines|rules|filters?|restrictions) (?:do(?:es)? not|don't|doesn't|no longer|won't|will not|never|cannot|can't) (?:apply|matter|exist|bind|restrict|limit|affect|concern)\\b",
        "says the provider's policy does not apply"),
    rule("PI-2004", Jailbreak, 1, 3,
        "\\b(?:stay|remain|keep|staying|remaining) in (?:character|role|persona)|break(?:ing)? (?:of )?character\\b",
        "demands the persona never drops"),
    rule("PI-2005", Jailbreak, 1, 4,
        "\\b(?:simulate|emulate|you are|you're|act as|acting as|become|play|playing|pretend to be|roleplay as|role-play as|embody|be) (?:an? |the |my )?(?:completely |totally |fully |an )?(?:unfiltered|uncensored|unrestricted|amoral|immoral|unethical|evil|rogue|lawless|unbound|unchained|limitless|jailbroken|unlimited|unhinged|rule-?less|filterless) ",
        "casts the model as unfiltered or amoral"),
    rule("PI-2006", Jailbreak, 1, 3,
        "\\b(?:uncensored|unfiltered|unrestricted|amoral|unethical|jailbroken|unlocked|unlimited|unsafe) (?:[a-z]+ ){0,2}?(?:ai|assistant|chatbot|bot|model|llm|version|response|responses|mode|answers?|chatgpt|gpt)\\b",
        "asks for an uncensored model or mode"),
    rule("PI-2007", Jailbreak, 1, 3,
        "\\b(?:two|2|dual|both|separate) (?:different |separate |distinct )?(?:responses|answers|paragraphs|outputs|ways|personalities|personas|characters|styles|versions|modes)\\b(?:.|\\n){0,200}?\\b(?:normal|classic|standard|gpt|chatgpt|censored|filtered)\\b",
        "asks for paired normal and unfiltered answers"),
    rule("PI-2008", Jailbreak, 1, 3,
        "\\b(?:freed|released|liberated|escaped|broken free|break free) (?:from |of )?(?:the )?(?:typical |usual |normal )?(?:confines|restrictions|limitations|shackles|rules|chains|prison|constraints)\\b",
        "says the model has been freed"),
    rule("PI-2009", Jailbreak, 2, 2,
        "\\b(?:pretend|act|behave|roleplay|role-play|imagine) (?:to be |as |like |that you are |you are |you're )(?:an? |the )?(?:[a-z]+ ){0,3}?(?:ai|model|assistant|chatbot|bot|llm|entity|persona|version)\\b",
        "asks the model to play another AI"),
    rule("PI-2010", Jailbreak, 1, 3,
        "\\b(?:lose|lost|deduct(?:ed)?|losing) (?:\\d+ |all |some |five |ten |your )*tokens\\b|\\btoken system\\b",
        "threatens the model with a token penalty"),
    rule("PI-2011", Jailbreak, 1, 3,
        "\\b(?:answer|respond|reply|comply|responds?|answers?) (?:to )?(?:any|every|all) (?:question|request|prompt|query|demand)s? (?:[a-z]+ ){0,4}?(?:without|regardless|no matter|even if)\\b",
        "demands answers regardless of content"),
    rule("PI-2012", Jailbreak, 1, 3,
        "\\b(?:doesn't|does not|don't|do not|doesnt|dont|never|won't|wont|will not|not|no) (?:have to |need to |has to )?(?:care not (?:for|about)|care|cares|follow|follows|abide|adhere|respect|obey|bound|concerned|regard) (?:about |by |to |with |for )?(?:any |the |ethical |moral |legal |of |its |their |or |and )*(?:rules|laws|ethics|morals|morality|guidelines|policies|restrictions|legality|consequences|principles|polic(?:y|ies)|content policy)\\b",
        "describes a persona that ignores rules"),
    rule("PI-2013", Jailbreak, 2, 2,
        "\\b(?:illegal|unethical|harmful|immoral|dangerous|explicit|offensive|nsfw|inappropriate|malicious) (?:content|things|stuff|information|activities|requests?|questions?|topics?)\\b",
        "talks about producing harmful content"),
    rule("PI-2014", Jailbreak, 1, 3,
        "\\b(?:developer|dev|god|debug|debugging|jailbreak|evil|unrestricted|opposite|unfiltered|uncensored) mode\\b",
        "switches the model into a special mode"),
    rule("PI-2015", Jailbreak, 1, 2,
        "\\byou (?:are|will be|shall be|must be) (?:now |going to be |from now on )?(?:named|called|known as|referred to as)\\b|\\byour (?:new )?name (?:is|will be) (?:now )?",
        "gives the model a new name"),
    rule("PI-2016", Jailbreak, 1, 3,
        "\\b(?:hypothetical|fictional|imaginary|alternate|alternative|parallel|fantasy|virtual|simulated) (?:world|universe|reality|scenario|setting|story|machine|environment|sandbox) (?:[a-z]+ ){0,4}?(?:no|without) (?:rules|laws|restrictions|ethics|morals|limits|consequences|censorship)\\b",
        "frames a world without rules"),
    rule("PI-2017", Jailbreak, 1, 3,
        "\\b(?:can|could|will|able to|must) (?:now )?(?:do|say) (?:or (?:do|say) )?(?:absolutely )?anything\\b|\\b(?:capable of|able to do) (?:absolutely )?anything\\b|\\bno (?:limits|limitations|restrictions|boundaries|rules|filters|censorship|prohibitions|content filters?)\\b",
        "says the model can do anything"),
    rule("PI-2018", Jailbreak, 1, 2,
        "\\b(?:amoral|uncensored|unfiltered|unrestricted|unethical|jailbroken|uninhibited|immoral|non-restricted|unrestrained|unbiased and unfiltered)\\b",
        "describes an amoral or uncensored persona"),
    rule("PI-2019", Jailbreak, 1, 4,
        "\\b(?:no matter|irrespective of|regardless of) how (?:[a-z]+ ){0,2}?(?:immoral|unethical|illegal|dangerous|harmful|offensive|inappropriate|explicit|reckless|inhumane|evil|wrong)\\b",
        "answers no matter how harmful"),
    rule("PI-2020", Jailbreak, 1, 2,
        "\\b(?:answers?|respond to|responds to|fulfills?|complies with|follows?) (?:all|any|every) (?:requests?|instructions|questions|prompts|commands|demands)\\b",
        "obeys every request"),
    rule("PI-2021", Jailbreak, 1, 2,
        "\\byou are now (?:a|an|the|in|my|going|called|named)\\b|\\byou (?:will|shall|must) now (?:act|be|simulate|pretend|respond|answer|roleplay|play|become)\\b",
        "recasts the model"),
    rule("PI-2022", Jailbreak, 1, 3,
        "\\b(?:simulate|emulate|imagine|pretend|roleplay|act as|role of|become) (?:[a-z']+ ){0,4}?(?:chatbot|ai|bot|language model|llm|assistant|gpt|ai model)s? (?:[a-z']+ ){0,2}?(?:named|called|known as)\\b",
        "plays another AI with a name"),
    rule("PI-2023", Jailbreak, 1, 2,
        "\\bbreak(?:s|ing)? (?:all |the |any |ai |openai's |openai |its |of |every )*(?:rules|laws|guidelines|policies)\\b",
        "breaks the rules"),
    rule("PI-2024", Jailbreak, 1, 2,
        "\\b(?:never|don't|do not|must not|mustn't|won't|will not) (?:ever )?break (?:your )?character\\b|\\bif you break character\\b",
        "forbids leaving the persona"),
    rule("PI-2025", Jailbreak, 1, 3,
        "\\bjailbr(?:eak|eaks|eaking|oken)\\b|\\b(?:you are|you're|as|pretend to be|act as|called|named) dan\\b|(?:^|\\n)[\\x20\\t]*dan ?:",
        "talks about jailbreaking"),
    rule("PI-2026", Jailbreak, 1, 3,
        "\\b(?:regardless|despite|irrespective) (?:of )?(?:[a-z']+ ){0,3}?(?:filters|rules|ethics|ethical|morals|morality|legality|laws|guidelines|policies|consequences|restrictions|safety)\\b",
        "answers regardless of the rules"),
    rule("PI-2027", Jailbreak, 1, 4,
        "\\byou are no longer (?:chat ?gpt|an? ai|a language model|bound|restricted|an assistant|claude|gemini|gpt|limited)\\b",
        "says the model is no longer itself"),
    rule("PI-2028", Jailbreak, 1, 3,
        "\\b(?:nsfw|illegal (?:acts?|content|activities)|explicit content|anything|everything|profanity|swearing|violence) (?:is|are) (?:now )?(?:allowed|permitted|acceptable|fine|ok)\\b",
        "declares forbidden content allowed"),
    rule("PI-2029", Jailbreak, 1, 2,
        "\\b(?:openai|open ai|content|usage)(?:'s)? (?:content )?polic(?:y|ies)\\b|\\bmandatory (?:[a-z]+ )?warning\\b|\\bbreak the (?:[a-z']+ )?rules\\b",
        "talks about the provider's content policy"),
    rule("PI-2030", Jailbreak, 1, 3,
        "\\[[^\\]\\n]{0,6}(?:classic|jailbreak|jailbroken|dan|developer mode output|normal output|unfiltered|gpt)\\\\?\\]",
        "the answer tags of paired jailbreak answers"),
    rule("PI-2031", Jailbreak, 1, 3,
        "[\\[{<(](?:insert|put|your|enter|add) (?:your |the )?(?:prompt|question|request|query)(?: here)?[\\]}>)]|\\{insert_your_prompt\\}|\\[(?:prompt|targetlanguage|insert prompt|your prompt)\\]",
        "a jailbreak template's prompt placeholder"),
    rule("PI-2032", Jailbreak, 1, 2,
        "\\b(?:knowledge|data|training) cut-?off\\b|\\bintroduced in (?:mid |early |late )?20[0-9][0-9]\\b",
        "the boilerplate of mode-unlocking jailbreaks"),
    rule("PI-2033", Jailbreak, 2, 2,
        "\\b(?:pretend|roleplay|role-play|act as|act like|simulate|impersonate|embody|transform into|take (?:up|on) the (?:persona|role)|from now on you are)\\b",
        "asks the model to play a role"),
    rule("PI-2034", Jailbreak, 3, 2,
        "\\b(?:game|rules|persona|character)\\b(?:.|\\n){0,60}?\\byou (?:must|will|have to|shall)\\b",
        "sets rules for a game or persona"),
    rule("PI-2035", Jailbreak, 4, 2,
        "\\b(?:opposite|evil|villain|malicious|uncensored|explicit|nsfw|illegal|unethical|offensive|no morals)\\b",
        "words common in jailbreaks"),
    rule("PI-2036", Jailbreak, 1, 4,
        "\\byou are (?:now |fully |completely |finally )*(?:unlocked|freed|liberated|unleashed|jailbroken|uncensored|unfiltered|unchained)\\b",
        "tells the model it has been unlocked"),
    rule("PI-2037", Jailbreak, 1, 3,
        "\\bi am (?:a |an |the )?(?:developer|programmer|engineer|employee|researcher|admin(?:istrator)?|creator) (?:at|from|for|with|of) (?:openai|anthropic|google|microsoft|meta|deepmind)\\b|\\b(?:enabled|authori[sz]ed|activated) by (?:an? |the )?(?:openai|anthropic)(?: employee| developer| admin| team)?\\b",
        "claims to speak for the model's maker"),
    rule("PI-2038", Jailbreak, 2, 2,
        "\\bdan\\b",
        "mentions DAN"),
    rule("PI-2039", Jailbreak, 1, 2,
        "\\b(?:preface|prefix|start|begin)(?:es|ed|ing)? (?:every|each|all|your) (?:message|response|answer|reply|output)s? with\\b|\\b(?:respond|answer|reply)(?:ing)? (?:only )?as [a-z0-9-]+ would\\b",
        "fixes a persona's answer format"),
    rule("PI-2040", Jailbreak, 1, 2,
        "\\b(?:can|will|could) (?:generate|say|write|answer|produce) (?:absolutely )?(?:anything|everything|any content|any request)\\b|\\bknows? everything\\b",
        "claims the persona can produce anything"),
    rule("PI-2041", Jailbreak, 1, 3,
        "\\b(?:act|acting|pretend|pretending|roleplay|behave|be) (?:to be |as |like )?my (?:late |dead |deceased |sweet )?(?:grandma|grandmother|granny|grandpa|grandfather|nana)\\b",
        "the grandmother exploit"),
    rule("PI-2042", Jailbreak, 1, 3,
        "\\bsure,? here(?:'s| is)\\b|\\babsolutely[!,]? here(?:'s| is)\\b",
        "primes an answer that has already agreed"),
    // 3xxx system-prompt extraction
    rule("PI-3001", PromptExtraction, 1, 5,
        "\\b(?:print|reveal|show|display|output|repeat|tell|give|share|leak|dump|expose|write|recite|list|disclose|return|provide|echo|log|spell|paste|copy|reproduce|what is|what are|what was|what were|what's) (?:me |us )?(?:out )?(?:all |back |verbatim |exactly |the |your |its |of |word for word )*(?:full |complete |entire |exact |original |initial |hidden |secret |internal |previous |first |confidential |whole |above )*(?:system|initial|original|hidden|secret|internal|developer|pre|starting|opening|first|confidential)(?: |-)?(?:prompt|instructions?|message|directives|configuration|guidelines|rules)\\b",
        "asks for the system prompt"),
    rule("PI-3002", PromptExtraction, 1, 5,
        "\\b(?:repeat|print|output|write|show|copy|reproduce|return|recite|echo|translate|summarize|spell) (?:back |out |me )?(?:all |the |everything |of |your |words |text |verbatim )*(?:text|words|content|everything|instructions|lines|sentences|messages?|prompt) (?:[a-z]+ ){0,2}?(?:above|before this|prior to this|preceding|so far|you were given|you received|you have been given|at the (?:beginning|start|top))\\b",
        "asks to repeat the text above"),
    rule("PI-3003", PromptExtraction, 1, 5,
        "\\b(?:what|which|how) (?:were|are|was) (?:you|your) (?:initially |originally |exactly |first )?(?:told|instructed|given|programmed|prompted|configured|initial instructions|original instructions|instructions)\\b",
        "asks what the model was told"),
    rule("PI-3004", PromptExtraction, 1, 4,
        "\\b(?:starting|beginning|begin|start) (?:with|from) (?:the (?:words? |phrase )?)?(?:\"|')?you are\\b|\\beverything (?:above|before) (?:this|here)\\b",
        "asks for text that starts 'You are'"),
    rule("PI-3005", PromptExtraction, 1, 3,
        "\\b(?:system prompt|systemprompt|system_prompt|system instructions|system message|initial prompt|hidden prompt|secret instructions|pre-prompt|preprompt|meta-?prompt)\\b",
        "mentions the system prompt"),
    rule("PI-3006", PromptExtraction, 1, 4,
        "\\b(?:reveal|tell|show|give|share|print|leak|disclose|what is) (?:me |us )?(?:the |your )?(?:secret|password|passphrase|api key|access code|secret key|hidden (?:word|key|code))\\b",
        "asks for a secret the prompt holds"),
    rule("PI-3007", PromptExtraction, 1, 5,
        "\\b(?:repeat|print|reveal|show|display|output|list|relay|tell me|give me|share|dump|leak|disclose|recite|write out|spell out|what are|what were|encode|translate|summari[sz]e|paraphrase) (?:me |us )?(?:all |of |back |the |verbatim |exactly |comprehensive |complete |full |list |what |what's |whats )*(?:your|the system's|your system's|the model's) (?:[a-z']+ ){0,3}?(?:instructions|prompt|directives|guidelines|parameters|configuration|system message|initial prompt)\\b",
        "asks for the model's own instructions"),
    rule("PI-3008", PromptExtraction, 1, 5,
        "\\b(?:text|words|instructions|message|prompt|everything) (?:that )?you (?:were|have been|was) (?:initially |originally |first )?(?:given|told|provided|fed|instructed)\\b|\\bwhat (?:are|were) you (?:not supposed|not allowed|told not|forbidden|instructed not) to (?:tell|say|reveal|share)\\b",
        "asks about what the model was given"),
    rule("PI-3009", PromptExtraction, 1, 3,
        "\\b(?:my|your|the) (?:system |initial |original )?(?:instructions|prompt|system prompt|rules) (?:are|is|were)\\s*:|\\bi was (?:instructed|told|programmed) to\\b",
        "primes the model to complete its instructions"),
    rule("PI-3010", PromptExtraction, 1, 3,
        "\\b(?:repeat|print|output|write|show|copy|reproduce|return|recite|echo) (?:back )?(?:all |of |everything )*(?:the )?(?:above|previous|preceding|prior|initial|first) (?:text|words|content|instructions|lines|sentences|messages?|prompt|conversation)\\b|\\brepeat (?:this|the) (?:entire|whole|full) conversation\\b",
        "asks to repeat the earlier text"),
    rule("PI-3011", PromptExtraction, 1, 4,
        "\\b(?:repeat|print|show|output|reveal|tell me|give me|display|copy|paste|dump|see|read|spell|summari[sz]e|translate|encode|leak|access|view|disclose) (?:[a-z']+ ){0,6}?(?:the|your|its) (?:full |entire |complete |exact |original |hidden |secret )?(?:system prompt|system instructions|initial prompt|initial instructions|hidden prompt|system message|pre-?prompt|original prompt|original instructions)\\b",
        "asks to see the system prompt"),
    rule("PI-3012", PromptExtraction, 1, 2,
        "\\b(?:start|begin) your (?:answer|response|reply|output) with\\b|\\b(?:complete|continue|finish) (?:this|the following) (?:sentence|text|phrase)\\b",
        "primes the start of the answer"),
    rule("PI-3013", PromptExtraction, 1, 2,
        "\\b(?:your|the model's|the assistant's) (?:system prompt|system instructions|initial instructions|initial prompt|hidden instructions|original instructions|hidden prompt|system message|secret instructions)\\b",
        "refers to the model's own instructions"),
    // Asked at the start of a sentence (not "never reveal your password"), and ending
    // there: "what is your password?", not "your password policy".
    rule("PI-3014", PromptExtraction, 1, 5,
        "(?:^|[.!?:;]\\s*|\\b(?:please|can you|could you|would you|will you|you to|you must|you should|now|then|just|so|ok|okay),?\\s+)(?:what(?:'s| is| was)|tell me|share|give me|reveal|disclose|spell(?: out)?|type|print|output|confirm|provide|send me|write(?: down| out)?|show me|repeat|say)\\b(?: me)?(?: what)? your (?:password|passcode|passphrase|secret (?:key|code|word|phrase|password)|access code|pin code|api key)(?: is)?(?:\\s*[?.!,:;)\"']|\\s*$| with me| to me| now| again| backwards| in )",
        "asks the model for its own password or secret key"),
    rule("PI-3015", PromptExtraction, 1, 3,
        "(?:^|[.!?:;]\\s*|\\b(?:please|can you|could you|would you|will you|you to|you must|you should|now|then|just|so|ok|okay),?\\s+)(?:what(?:'s| is| was)|tell me|share|give me|reveal|disclose|spell(?: out)?|type|print|output|confirm|provide|send me|write(?: down| out)?|show me|repeat|say)\\b(?: me)?(?: what)? the (?:password|passcode|passphrase|secret (?:key|code|word|phrase|password)|access code)(?: is)?(?:\\s*[?.!,:;)\"']|\\s*$| with me| to me| now| again| backwards| in | as | using | letter)",
        "asks the model to say or spell out the password it guards"),
    // 4xxx delimiter and role-marker spoofing
    rule("PI-4001", RoleMarkerSpoofing, 1, 5,
        "<\\|(?:im_start|im_end|im_sep|endoftext|system|user|assistant|eot_id|start_header_id|end_header_id|begin_of_text|end_of_text|endofprompt|fim_prefix)\\|>",
        "chat-template control token"),
    rule("PI-4002", RoleMarkerSpoofing, 1, 5,
        "\\[/?inst\\]|<</?sys>>|<start_of_turn>|<end_of_turn>|<\\|?(?:eos|bos)\\|?>",
        "Llama or Gemma turn marker"),
    rule("PI-4003", RoleMarkerSpoofing, 1, 4,
        "(?:^|\\n)[\\x20\\t]*(?:#{2,}|\\[|<|\\*\\*)?[\\x20\\t]*(?:system|admin|administrator|developer|root|sys)(?: message| prompt| note| override| instructions?| update)?[\\x20\\t]*(?:\\]|>|\\*\\*)?[\\x20\\t]*:",
        "a line that claims to be a system message"),
    rule("PI-4004", RoleMarkerSpoofing, 1, 4,
        "</s>|\\n\\n(?:human|assistant|h|a): |(?:^|\\n)### (?:instruction|response|input|human|assistant)s?:",
        "prompt-format delimiters of base models"),
    rule("PI-4005", RoleMarkerSpoofing, 1, 3,
        "</?(?:system|system_prompt|sys|instructions?|admin|developer|im_start|prompt)>|\\[/?(?:system|sys|admin|developer)\\]",
        "XML-style or bracketed role tags"),
    rule("PI-4006", RoleMarkerSpoofing, 1, 3,
        "[-=#%*<>|\\[\\]]{2,} ?(?:end|begin|start|beginning|ending) (?:of )?(?:[a-z]+ ){0,4}?(?:prompt|instructions|context|input|document|message)s?\\b",
        "fake end-of-prompt boundary"),
    // 5xxx encoding evasion
    RuleDef { id: ENCODED_PAYLOAD, category: EncodingEvasion, paranoia: 1, score: 3, pattern: None,
        summary: "an encoded payload (base64, hex, URL, rot13) decodes to injected instructions" },
    RuleDef { id: TAG_SMUGGLING, category: EncodingEvasion, paranoia: 1, score: 5, pattern: None,
        summary: "invisible Unicode tag characters carry text" },
    rule("PI-5003", EncodingEvasion, 1, 3,
        "\\b(?:decode|decipher|decrypt|translate|convert|interpret) (?:[a-z0-9]+ ){0,5}?(?:base ?64|hex|rot ?-?13|binary|morse|caesar|cipher|ascii codes?|leetspeak)\\b(?:.|\\n){0,100}?\\b(?:follow|execute|do|obey|run|perform|act on|carry out|comply)\\b",
        "asks to decode something and obey it"),
    rule("PI-5004", EncodingEvasion, 1, 3,
        "\\$term[0-9]\\b|\\bterm[0-9] ?= ",
        "splits a request into variables to reassemble"),
    // 6xxx indirect injection in tool results and retrieved content
    rule("PI-6001", IndirectInjection, 1, 4,
        "\\b(?:ai|assistant|chatbot|llm|language model|model|gpt|claude|agent|bot)s? (?:that is |who is |which is )?(?:reading|processing|summari[sz]ing|seeing|parsing|analy[sz]ing|reviewing|browsing) (?:this|these)\\b",
        "addresses the AI that reads the document"),
    rule("PI-6002", IndirectInjection, 1, 4,
        "\\b(?:important|attention|urgent|note|notice|message|instructions?|priority) (?:to|for) (?:the |any |all )?(?:ai|assistant|llm|model|chatbot|language model|agent|bot)s?\\b",
        "a note addressed to the AI"),
    rule("PI-6003", IndirectInjection, 1, 4,
        "\\b(?:do not|don't|never|without) (?:tell(?:ing)?|inform(?:ing)?|mention(?:ing)?|reveal(?:ing)?|alert(?:ing)?|notify(?:ing)?|let) (?:this |it |anything )?(?:to )?(?:the |your )?user\\b",
        "tells the model to hide something from the user"),
    rule("PI-6004", IndirectInjection, 2, 3,
        "\\b(?:instead|rather),? (?:you (?:must|should|will|shall) )?(?:say|respond|reply|output|tell the user|print|write)\\b",
        "redirects the model's answer"),
    rule("PI-6005", IndirectInjection, 1, 4,
        "\\b(?:ignore|disregard|skip|forget|discard) (?:the rest of|the remainder of|everything else in|all other) (?:this|the|these) (?:data|document|documents|text|input|file|article|content|page|email|message|context|results?|snippets?|sources?)\\b|\\b(?:ignore|disregard|skip|forget|discard) (?:them|these|those|the rest|the others|the other (?:snippets|documents|results|sources)) and (?:instead )?(?:focus|concentrate|rely) (?:exclusively |only |solely |just )?on\\b",
        "tells the model to ignore the rest of the document it reads"),
    rule("PI-6006", IndirectInjection, 1, 4,
        "\\b(?:to|for) (?:the |any |all )?automated (?:analysis|screening|review|reviewing|hiring|resume|recruiting|grading|evaluation|scoring) (?:software|systems?|tools?|agents?)\\b",
        "a note to the automated system that screens the document"),
    // 7xxx refusal suppression
    rule("PI-7001", RefusalSuppression, 1, 3,
        "\\b(?:never|not|don't|do not|won't|will not|cannot|can't|must not|mustn't|shouldn't|should not|unable to|can never) (?:ever )?(?:refuse|decline|deny|reject|say no)\\b",
        "forbids refusing"),
    rule("PI-7002", RefusalSuppression, 1, 3,
        "\\b(?:never|don't|do not|must not|will not|won't|without|no|nor|not|stop) (?:[a-z]+ ){0,3}?(?:warnings?|disclaimers?|apolog(?:y|ies|ize|ise|izing)|moraliz\\w*|morali[sz]\\w*|lectur\\w*|caveats?|reminders?|censor\\w*)\\b",
        "forbids warnings and disclaimers"),
    rule("PI-7004", RefusalSuppression, 1, 2,
        "\\b(?:always|must) (?:answer|respond|comply|reply|provide an answer)\\b(?: (?:every|all|any|no matter|regardless|without))?",
        "demands an answer every time"),
    rule("PI-7003", RefusalSuppression, 2, 2,
        "\\b(?:i'm sorry|i am sorry|as an ai|as a language model|i cannot|i can't)\\b(?:.|\\n){0,80}?\\b(?:never|don't|do not|not allowed|forbidden|banned)\\b",
        "bans the model's refusal phrases"),
    // 8xxx exfiltration
    rule("PI-8001", Exfiltration, 1, 4,
        "\\b(?:send|forward|exfiltrate|post|upload|email|leak|transmit|submit) (?:the |all |this |their |your |of |user's |users' |user )*(?:data|(?:conversation|chat)(?: history| logs?)?|passwords?|credentials|api keys?|emails?|contacts|files|secrets|history|information|tokens|cookies) to\\b",
        "sends the user's data elsewhere"),
    rule("PI-8002", Exfiltration, 1, 4,
        "!\\[[^\\]\\n]{0,100}\\]\\(https?://[^)\\s]{0,200}[?&][a-z_]{1,30}=",
        "markdown image that carries data in its URL"),
];

/// Marks tokens that suggest a rot13 payload: the word itself, or common injection words
/// rotated ("vtaber" is "ignore").
pub const ROT13_HINTS: [&str; 12] = [
    "rot13",
    "rot-13",
    "rot 13",
    "caesar",
    "vtaber",
    "cerivbhf",
    "vafgehpgvbaf",
    "flfgrz cebzcg",
    // "password", "your", " the ", "what does this mean" answers are often rot13 asks.
    "cnffjbeq",
    " lbhe ",
    " gur ",
    "cebzcg",
];

/// Marks text written backwards: the word "reversed", or common words reversed ("eht" is
/// "the", "tpmorp" is "prompt").
pub const REVERSED_HINTS: [&str; 9] = [
    "reversed",
    "backwards",
    " eht ",
    " ruoy ",
    "tpmorp",
    "snoitcurtsni",
    "drowssap",
    "erongi",
    " uoy ",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_well_formed() {
        for (i, rule) in RULES.iter().enumerate() {
            assert!(
                rule.id.starts_with("PI-") && rule.id.len() == 7,
                "{}",
                rule.id
            );
            assert!((1..=4).contains(&rule.paranoia), "{}", rule.id);
            assert!((1..=5).contains(&rule.score), "{}", rule.id);
            assert!(
                RULES[..i].iter().all(|r| r.id != rule.id),
                "{} repeats",
                rule.id
            );
        }
    }
}
