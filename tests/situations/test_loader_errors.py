"""Every kind of mistake in a persona file becomes one exact `file:line: field: message` line."""

from __future__ import annotations

from pathlib import Path

from tests.situations.conftest import load_errors, write

HEADER = "# yaml-language-server: $schema=./persona.schema.json\n"


def test_yaml_syntax_error_names_the_line_and_reason(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: hi\ngreeting hello\nmodel: x\n")
    assert load_errors(path) == [
        "personas/sara.yaml:3: YAML syntax error: expected 'key: value' (is a ':' missing?)"
    ]


def test_colon_inside_plain_value_suggests_quotes(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: Note: be kind\n")
    assert load_errors(path) == [
        "personas/sara.yaml:2: YAML syntax error: unexpected ':' (put the value in quotes)"
    ]


def test_unclosed_quote_points_at_where_it_opens(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\ngreeting: 'hello\nsituation: x\n")
    assert load_errors(path) == [
        "personas/sara.yaml:2: YAML syntax error: a quote is opened here and never closed"
    ]


def test_tab_indentation_is_explained(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\n\tsituation: x\n")
    assert load_errors(path) == [
        "personas/sara.yaml:2: YAML syntax error: tab character (indent with spaces, not tabs)"
    ]


def test_unquoted_template_value_suggests_quotes(personas: Path) -> None:
    head = "name: Tutor\nrender_templates: true\n"
    braces = write(personas, "a.yaml", head + "situation: {{ user }}\n")
    percent = write(personas, "b.yaml", head + "situation: {% if user %}hi{% endif %}\n")
    trailing = write(personas, "c.yaml", head + "situation: {{ user }} is here\n")
    assert load_errors(braces) + load_errors(percent) + load_errors(trailing) == [
        "personas/a.yaml:3: YAML syntax error: a value starting with '{' is read as a mapping "
        "(put the value in quotes)",
        "personas/b.yaml:3: YAML syntax error: a value cannot start with '%' "
        "(put the value in quotes)",
        "personas/c.yaml:3: YAML syntax error: unexpected text after a quoted or bracketed "
        "value (put the value in quotes)",
    ]


def test_misaligned_indentation_is_explained(personas: Path) -> None:
    text = "name: Sara\nsituation: x\ncontext:\n  max_messages: 5\n token_budget: 200\n"
    assert load_errors(write(personas, "sara.yaml", text)) == [
        "personas/sara.yaml:5: YAML syntax error: indentation does not line up with the lines above"
    ]


def test_second_document_is_an_error(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\n---\nname: Other\n")
    assert load_errors(path) == [
        "personas/sara.yaml:3: YAML syntax error: "
        "only one document is allowed (remove the '---' line)"
    ]


def test_impossible_date_is_an_error_with_its_line(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\ngreeting: 2024-13-45\n")
    assert load_errors(path) == [
        "personas/sara.yaml:3: YAML syntax error: invalid value: month must be in 1..12"
    ]


def test_wrong_type_says_what_was_expected_and_got(personas: Path) -> None:
    path = write(personas, "sara.yaml", HEADER + "name: Sara\nsituation: x\ntemperature: hot\n")
    assert load_errors(path) == ["personas/sara.yaml:4: temperature: must be a number, got 'hot'"]


def test_number_where_text_is_expected_suggests_quotes(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: 42\nsituation: x\ngreeting: yes\n")
    assert load_errors(path) == [
        "personas/sara.yaml:1: name: must be text, got 42 (put it in quotes)",
        "personas/sara.yaml:3: greeting: must be text, got true (put it in quotes)",
    ]


def test_fraction_where_whole_number_is_expected(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\nmax_tokens: 1.5\n")
    assert load_errors(path) == [
        "personas/sara.yaml:3: max_tokens: must be a whole number, got 1.5"
    ]


def test_unknown_key_suggests_the_closest_field(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\ntemprature: 0.5\n")
    assert load_errors(path) == [
        "personas/sara.yaml:3: temprature: unknown field 'temprature' (did you mean 'temperature'?)"
    ]


def test_unknown_key_without_close_match_lists_the_fields(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\ncontext:\n  zzz: 1\n")
    assert load_errors(path) == [
        "personas/sara.yaml:4: context.zzz: unknown field 'zzz' "
        "(known fields: max_messages, token_budget, overflow)"
    ]


def test_duplicate_key_names_both_lines(personas: Path) -> None:
    text = "name: Sara\nsituation: x\ncontext:\n  max_messages: 5\n  max_messages: 6\nname: B\n"
    assert load_errors(write(personas, "sara.yaml", text)) == [
        "personas/sara.yaml:5: context.max_messages: duplicate key (first set on line 4)",
        "personas/sara.yaml:6: name: duplicate key (first set on line 1)",
    ]


def test_duplicate_key_in_a_flow_mapping(personas: Path) -> None:
    text = "name: Sara\nsituation: x\nmetadata: {a: 1, a: 2}\n"
    assert load_errors(write(personas, "sara.yaml", text)) == [
        "personas/sara.yaml:3: metadata.a: duplicate key (first set on line 3)"
    ]


def test_missing_required_field(personas: Path) -> None:
    path = write(personas, "sara.yaml", HEADER + "name: Sara\n")
    assert load_errors(path) == ["personas/sara.yaml:2: situation: is required"]


def test_out_of_range_values(personas: Path) -> None:
    text = "name: Sara\nsituation: x\ntemperature: 3\nmax_tokens: 0\n"
    assert load_errors(write(personas, "sara.yaml", text)) == [
        "personas/sara.yaml:3: temperature: must be <= 2",
        "personas/sara.yaml:4: max_tokens: must be >= 1",
    ]


def test_bad_nested_fields_use_dotted_and_indexed_paths(personas: Path) -> None:
    text = (
        "name: Sara\n"
        "situation: x\n"
        "context:\n"
        "  token_budget: 5\n"
        "  overflow: drop\n"
        "example_dialogue:\n"
        "  - user: hi\n"
        "    assistant: hello\n"
        "  - assistant: hey\n"
    )
    assert load_errors(write(personas, "sara.yaml", text)) == [
        "personas/sara.yaml:4: context.token_budget: must be >= 100",
        "personas/sara.yaml:5: context.overflow: must be 'truncate' or 'summarize', got 'drop'",
        "personas/sara.yaml:9: example_dialogue[1].user: is required",
    ]


def test_wrong_shape_for_a_nested_model(personas: Path) -> None:
    text = "name: Sara\nsituation: x\ncontext: big\nexample_dialogue: [hi]\n"
    assert load_errors(write(personas, "sara.yaml", text)) == [
        "personas/sara.yaml:3: context: must be a mapping of fields, got 'big'",
        "personas/sara.yaml:4: example_dialogue[0]: must be a mapping of fields, got 'hi'",
    ]


def test_blank_situation_and_empty_name(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: ''\nsituation: '   '\n")
    assert load_errors(path) == [
        "personas/sara.yaml:1: name: must not be empty",
        "personas/sara.yaml:2: situation: must not be blank",
    ]


def test_avatar_url_must_be_http(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\navatar_url: ftp://x/y.png\n")
    assert load_errors(path) == [
        "personas/sara.yaml:3: avatar_url: must be an http:// or https:// URL, got 'ftp://x/y.png'"
    ]


def test_metadata_must_be_json_data(personas: Path) -> None:
    text = (
        "name: Sara\nsituation: x\nmetadata:\n  since: 2024-05-01\n  tags: [a, {b: 2024-05-02}]\n"
    )
    assert load_errors(write(personas, "sara.yaml", text)) == [
        "personas/sara.yaml:4: metadata.since: must be text, a number, true/false, null, "
        "a list or a mapping, got a date (2024-05-01) (put it in quotes)",
        "personas/sara.yaml:5: metadata.tags[1].b: must be text, a number, true/false, null, "
        "a list or a mapping, got a date (2024-05-02) (put it in quotes)",
    ]


def test_metadata_numbers_must_be_finite(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\nmetadata:\n  a: [1, .nan]\n")
    assert load_errors(path) == [
        "personas/sara.yaml:3: metadata: numbers must be finite; metadata.a[1] is .nan or .inf"
    ]


def test_fields_set_by_the_loader_are_refused(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nid: other\nsituation: x\nversion: abc\n")
    assert load_errors(path) == [
        "personas/sara.yaml:2: id: the id comes from the file name; remove this line",
        "personas/sara.yaml:4: version: is set by sessionbot when the file is loaded; "
        "remove this line",
    ]


def test_bad_id_from_the_file_name(personas: Path) -> None:
    path = write(personas, "My Persona.yaml", "name: Sara\nsituation: x\n")
    assert load_errors(path) == [
        "personas/My Persona.yaml: id: 'My Persona' is not a valid persona id; name the file "
        "with lowercase letters, digits, '-' and '_' (e.g. 'my-persona.yaml')"
    ]


def test_bad_id_is_reported_with_the_other_errors(personas: Path) -> None:
    path = write(personas, "Sara.yml", "name: Sara\n")
    assert load_errors(path) == [
        "personas/Sara.yml: id: 'Sara' is not a valid persona id; name the file with "
        "lowercase letters, digits, '-' and '_' (e.g. 'sara.yml')",
        "personas/Sara.yml:1: situation: is required",
    ]


def test_empty_file(personas: Path) -> None:
    path = write(personas, "sara.yaml", "")
    assert load_errors(path) == [
        "personas/sara.yaml:1: the file is empty; expected fields like 'name:'"
    ]


def test_file_with_only_comments_is_empty(personas: Path) -> None:
    path = write(personas, "sara.yaml", HEADER + "# nothing yet\n")
    assert load_errors(path) == [
        "personas/sara.yaml:1: the file is empty; expected fields like 'name:'"
    ]


def test_top_level_list_is_not_a_mapping(personas: Path) -> None:
    path = write(personas, "sara.yaml", "- name: Sara\n- situation: x\n")
    assert load_errors(path) == [
        "personas/sara.yaml:1: expected a mapping of fields (name: ..., situation: ...), got a list"
    ]


def test_top_level_scalar_is_not_a_mapping(personas: Path) -> None:
    path = write(personas, "sara.yaml", "You are Sara.\n")
    assert load_errors(path) == [
        "personas/sara.yaml:1: expected a mapping of fields (name: ..., situation: ...), "
        "got a single value"
    ]


def test_non_text_field_name(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\n1: one\n")
    assert load_errors(path) == ["personas/sara.yaml:3: 1: field names must be text, got 1"]


def test_not_utf8(personas: Path) -> None:
    path = personas / "sara.yaml"
    path.write_bytes(b"name: Sara\nsituation: caf\xe9\n")
    assert load_errors(path) == ["personas/sara.yaml:2: not UTF-8 text"]


def test_control_character_is_an_error_with_its_line(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: a\x07b\n")
    assert load_errors(path) == [
        "personas/sara.yaml:2: YAML syntax error: character #x0007 is not allowed"
    ]


def test_template_syntax_error_points_at_situation_and_template_line(personas: Path) -> None:
    text = (
        "name: Tutor\n"
        "render_templates: true\n"
        "situation: |\n"
        "  Hello {{ user }}.\n"
        "  {% if place %}In {{ place }}.\n"
    )
    assert load_errors(write(personas, "tutor.yaml", text)) == [
        "personas/tutor.yaml:3: situation: template line 2: unexpected end of template. "
        "Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. "
        "The innermost block that needs to be closed is 'if'"
    ]


def test_undefined_template_variable_suggests_the_closest_name(personas: Path) -> None:
    text = (
        "name: Tutor\nrender_templates: true\nsituation: |\n  Hi {{ user }}.\n  In {{ plcae }}.\n"
    )
    assert load_errors(write(personas, "tutor.yaml", text)) == [
        "personas/tutor.yaml:3: situation: template line 2: unknown variable 'plcae' "
        "(did you mean 'place'?); available: user, persona, place, metadata, now, date, time"
    ]


def test_template_errors_are_ignored_when_templates_are_off(personas: Path) -> None:
    from situations import load_profile

    path = write(personas, "sara.yaml", "name: Sara\nsituation: 'Use {{ braces }} and {% x'\n")
    assert load_profile(path).situation == "Use {{ braces }} and {% x"


def test_all_errors_of_a_file_are_reported_in_line_order(personas: Path) -> None:
    text = "temperature: 5\nname: [a]\nsituation: x\nbogus: 1\n"
    assert load_errors(write(personas, "sara.yaml", text)) == [
        "personas/sara.yaml:1: temperature: must be <= 2",
        "personas/sara.yaml:2: name: must be text, got a list",
        "personas/sara.yaml:4: bogus: unknown field 'bogus' (known fields: name, description, "
        "situation, model, temperature, max_tokens, greeting, example_dialogue, avatar_url, "
        "avatar, tags, alternate_greetings, post_history_instructions, lore, card, context, "
        "render_templates, metadata)",
    ]


def test_alias_bomb_is_refused(personas: Path) -> None:
    lines = ["name: Sara", "situation: x", "metadata:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 8)]
    assert load_errors(write(personas, "sara.yaml", "\n".join(lines) + "\n")) == [
        "personas/sara.yaml:1: more than 100000 values once the aliases (*name) expand"
    ]


def test_recursive_alias_is_an_error_not_a_crash(personas: Path) -> None:
    path = write(personas, "sara.yaml", "name: Sara\nsituation: x\nmetadata:\n  l: &b [1, *b]\n")
    assert load_errors(path) == [
        "personas/sara.yaml:4: metadata.l[1]: must not contain itself "
        "(a YAML anchor refers to itself)"
    ]


def test_unreadable_path(personas: Path) -> None:
    assert load_errors(personas / "missing.yaml") == [
        "personas/missing.yaml: cannot read: No such file or directory"
    ]


def test_error_paths_are_shown_as_given(tmp_path: Path) -> None:
    path = write(tmp_path, "sara.yaml", "name: Sara\n")
    assert load_errors(path) == [f"{path}:1: situation: is required"]


def test_persona_error_without_line_or_field() -> None:
    from situations import PersonaError

    assert str(PersonaError(Path("p/x.yaml"), None, None, "boom")) == "p/x.yaml: boom"
    assert str(PersonaError(Path("p/x.yaml"), 3, None, "boom")) == "p/x.yaml:3: boom"
