"""Optional rubric feedback from a language model, beside the keyword grade.

    schema.py          what the model must reply (LLMFeedback), the bounded request schema, the outcome (LLMResult)
    judge.py           whether to accept a reply: its quotes must occur in the answer and back its score
    support.py         whether a quote is about its term: by words, by meaning once a similarity is plugged in
    prompts.py         the prompt files, the worked example and the messages built from them (answers fenced); version hash
    reply.py           one usable reply: read the raw body, check, ask again with the problems fed back
    client.py          FeedbackClient: cache, requests through the openai SDK (provider_batch.py alone also imports it), batches
    endpoint.py        what an endpoint accepts, learnt from its errors and remembered; a local server's slots
    secrets.py         keys masked before any message is cut; a long server error cut to its cause
    examples.py        graded answers for the prompt (few-shot), nearest first
    provider_batch.py  a provider's batch API (grade --llm --batch, collected by --resume)
    runner.py          the client's event loop: blocking calls, concurrent batches yielded in input order
    cache.py           the SQLite reply cache, batched commits (raises CacheError)
    check.py           ``grader llm check``, with a real grading request

The student's answer is untrusted: it never enters the instructions, and a
model talked into full marks cannot give them. Nothing here raises for an LLM
reason: a failure leaves the keyword grade standing, with a notice. Importing
this package does not import openai.
"""
