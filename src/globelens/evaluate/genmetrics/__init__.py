"""Metrics of generative tasks, each equal to its field's reference implementation.

- :mod:`.captions`: CIDEr-D, BLEU-1..4, ROUGE-L through pycocoevalcap (its PTB tokenizer);
- :mod:`.vqa`: VQAv2 accuracy with the official ``vqaEval`` answer normalisation;
- :mod:`.detection`: COCO mAP / AP50 through pycocotools, and the same AP on any image subset
  or bootstrap resample (group metrics);
- :mod:`.refseg`: referring-segmentation mIoU, box accuracy at IoU 0.5 and the invalid count,
  as big_vision's PaliGemma segmentation evaluator defines them.
"""
