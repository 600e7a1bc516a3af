"""Read and write the files artists use: flat images and layered PSD, Krita and OpenRaster files."""
