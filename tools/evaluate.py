#!/usr/bin/env python
"""Metrics between a folder of real images and a folder of generated ones.

    python tools/evaluate.py --real datasets/facades/testB --fake output/run/eval/latest/AtoB/images
    python tools/evaluate.py --real REAL --fake FAKE --metrics fid kid --real-stats-cache real.npz

PSNR/SSIM pair images by name (ppimg2img's _fake_B/_real_B/_gt_B suffixes are ignored); FID/KID
use every image of both folders (InceptionV3 pool features, pytorch-fid weights downloaded once
into the cache, or --inception-weights FILE). Prints the values with the protocol and can write
them as JSON (--output).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description="PSNR, SSIM, FID and KID between a real and a fake image folder.")
    p.add_argument("--real", required=True, help="folder of real (ground-truth / target-domain) images")
    p.add_argument("--fake", required=True, help="folder of generated images")
    p.add_argument("--metrics", nargs="+", default=["psnr", "ssim"], choices=["psnr", "ssim", "fid", "kid"],
                   help="what to compute (default: psnr ssim)")
    p.add_argument("--y-channel", action="store_true", help="PSNR/SSIM on the BT.601 luma instead of RGB")
    p.add_argument("--crop-border", type=int, default=0, help="ignore N border pixels in PSNR/SSIM")
    p.add_argument("--inception-weights", help="FID Inception weights (default: cached "
                                               "pt_inception-2015-12-05-6726825d.pth, downloaded once)")
    p.add_argument("--real-stats-cache", help="a .npz that caches the real folder's features (reused when the "
                                              "folder, image count and weights match)")
    p.add_argument("--batch-size", type=int, default=50, help="images per Inception pass")
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--kid-subset-size", type=int, default=1000)
    p.add_argument("--max-images", type=int, help="use at most N images per folder")
    p.add_argument("--output", help="write the report as JSON here")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    from ppimg2img.metrics.fid import InceptionWeightsError
    from ppimg2img.metrics.folders import evaluate_folders, format_report, write_report
    try:
        report = evaluate_folders(args.real, args.fake, args.metrics, args.y_channel, args.crop_border,
                                  args.inception_weights, args.real_stats_cache, args.batch_size, args.kid_subsets,
                                  args.kid_subset_size, args.max_images, progress=not args.no_progress)
    except (OSError, ValueError, InceptionWeightsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("\n".join(format_report(report)))
    if args.output:
        print(f"report written to {write_report(report, args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
