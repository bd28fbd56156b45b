"""cloudtill shared package: deployed as a Lambda layer (`layers/cloudtill/python`)."""
