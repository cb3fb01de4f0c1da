"""Fine-tuning: interaction logs -> SFT examples rendered with the serving prompts -> LoRA adapter.

    python -m finetune.train --data movielens-small --out adapters/smollm2-135m-marquee
"""
