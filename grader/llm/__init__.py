"""Optional rubric feedback from a language model, beside the keyword grade.

    schema.py   what the model must reply (LLMFeedback), the outcome (LLMResult), Usage, Totals
    judge.py    whether to accept a reply: its quotes must occur in the answer and back its score
    prompts.py  the prompt files and the messages built from them; their version hash
    reply.py    one usable reply: ask, check, ask again with the problems fed back
    client.py   FeedbackClient: cache, requests through the openai SDK (the only module that imports it), batches
    runner.py   the client's event loop: blocking calls, concurrent batches yielded in input order
    cache.py    the SQLite reply cache (raises CacheError)
    check.py    ``grader llm check``

The student's answer is untrusted: it never enters the instructions, and a
model talked into full marks cannot give them. Nothing here raises for an LLM
reason: a failure leaves the keyword grade standing, with a notice. Importing
this package does not import openai.
"""
