"""Tool use: a language model asks for a tool with a JSON call, the code checks the call against the tool's schema,
runs the tool and feeds the result back (the ReAct loop). Taught in notebook 16.

    schema.py   `schema_errors` / `is_valid`: a small JSON Schema validator (the subset tool schemas use)
    tools.py    `Tool`, `calculate` (safe arithmetic, no eval), `WordNetDictionary`, `calculator_tool`,
                `dictionary_tool`
    loop.py     `parse_action`, `tool_system_prompt`, `few_shot_messages`, `run_agent` -> `AgentRun`
    questions.py  `arithmetic_questions`, `definition_questions`, scoring of answers
"""
