"""A fixed corpus of hostile strings: quoting, escapes, Jinja, shell, control characters, unicode."""

from __future__ import annotations

BASE = [
    "'", '"', "'''", '"""', "\\", "\\\\", "\\n", "\\x00", "\\u202e", "a'b\"c", "it's", 'say "hi"',
    "line1\nline2", "trailing\n", "\r\n", "tab\there", "\x0b\x0c", "\x1b[31mred\x1b[0m", "\x7f",
    "{{ 7 * 7 }}", "{{ dag.dag_id }}", "{% if true %}x{% endif %}", "{# comment #}", "{%raw%}", "{% endraw %}",
    "{{", "}}", "{%", "%}", "{#", "#}", "{", "}", "{}", "{0}", "{task}", "%(name)s", "%s", "${HOME}",
    "${{ secrets.TOKEN }}", "$(id)", "`id`", "; rm -rf / #", "| cat /etc/passwd", "&& echo pwned", "> /tmp/x",
    "< /dev/null", "*", "?", "~", "!!", "#!/bin/sh", "'; DROP TABLE dags; --", "<script>alert(1)</script>",
    "ünïcödé", "日本語のブランチ", "עברית", "العربية", "\u202eRTL override", "\u200bzero\u200bwidth", "emoji 🚀🔥",
    "\ud7ff", "\ue000", "\ufeffBOM", "x" * 300, "y" * 5000, " leading", "trailing ", "  ", "a\u2028b", "a\u2029b",
    "C:\\Windows\\path", "/etc/passwd", "../../etc", "file.yaml", "file.json", "file.sh", "file.sql", "x.j2",
    "None", "True", "null", "0", "-1", "1e9", "nan", "[1, 2]", "{'a': 1}", "__import__('os').system('id')",
    "\"\"\"; import os; os.system('id'); \"\"\"", "'''; import os; '''", "\\'", '\\"', "\\\\'", "){(",
]


def corpus(size: int = 210) -> list[str]:
    """BASE plus deterministic combinations, ``size`` strings in all."""
    values = list(dict.fromkeys(BASE))
    i = 0
    while len(values) < size:
        a, b = BASE[i % len(BASE)], BASE[(i * 7 + 3) % len(BASE)]
        combined = f"{a}{b}" if i % 2 else f"{b} and {a}"
        if combined not in values:
            values.append(combined)
        i += 1
    return values[:size]
